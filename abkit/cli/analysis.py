"""`abkit analyze` and `abkit plan`: parse arguments, call one library function, print."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer

from abkit.cli.app import app, user_errors


def _parse_ts(value: str | None) -> dt.datetime | None:
    from abkit.errors import AbkitError

    if value is None:
        return None
    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise AbkitError(f"--as-of: {value!r} is not an ISO 8601 timestamp (e.g. 2026-11-08T00:00:00Z)") from None
    return t.astimezone(dt.UTC).replace(tzinfo=None) if t.tzinfo else t


@app.command()
@user_errors
def analyze(
    spec: Path = typer.Argument(..., help="Experiment spec (YAML)."),
    db: Path = typer.Option(Path("abkit.duckdb"), help="DuckDB warehouse file."),
    json_out: Path = typer.Option(None, "--json", help="Write the CONTRACT §6 JSON here."),
    dimension: list[str] = typer.Option([], "--dimension", help="Breakdown by this exposure/user column (repeatable)."),
    as_of: str = typer.Option(None, "--as-of", help="Analyze the data as it stood at this UTC timestamp."),
    show_sql: bool = typer.Option(False, "--show-sql", help="Print the SQL (with bound values) and exit."),
    memory_limit: str = typer.Option(None, "--memory-limit", help="DuckDB memory limit, e.g. 3GB."),
    no_text: bool = typer.Option(False, "--no-text-metrics", help="Skip the diversity block."),
) -> None:
    """Attribute events, compare arms, apply the decision rule; print a table and write JSON."""
    import json

    from rich.console import Console

    from abkit.spec import load_spec
    from abkit.warehouse import connect
    from experiments.analyze import analysis_sql, render_breakdown, store_result
    from experiments.analyze import analyze as run_analysis

    s = load_spec(spec)
    t = _parse_ts(as_of)
    if show_sql:
        typer.echo(analysis_sql(s, as_of=t, dimensions=dimension))
        return
    if not db.exists():
        from abkit.errors import AbkitError

        raise AbkitError(f"{db}: no such database (ingest some logs first)")
    con = connect(db, memory_limit=memory_limit)
    try:
        result = run_analysis(s, con, as_of=t, dimensions=dimension, text_metrics=not no_text)
        store_result(con, result)
    finally:
        con.close()
    console = Console()
    console.print(result.rich_table())
    for name in result.data.get("breakdowns", {}):
        console.print(render_breakdown(result.data, name))
    for note in result.data.get("notes", []):
        console.print(f"note: {note}", markup=False)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(result.to_json_dict(), ensure_ascii=False, indent=2, allow_nan=False),
                            encoding="utf-8")
        typer.echo(f"wrote {json_out}")


@app.command()
@user_errors
def plan(
    spec: Path = typer.Argument(..., help="Experiment spec (YAML)."),
    db: Path = typer.Option(Path("abkit.duckdb"), help="Warehouse with historical logs."),
    history_days: int = typer.Option(28, help="Days of history before the start to learn from."),
) -> None:
    """Users per arm and days needed for the spec's MDE and power, from historical logs."""
    from abkit.spec import load_spec
    from abkit.warehouse import connect
    from experiments.plan import plan as make_plan

    s = load_spec(spec)
    con = connect(db, read_only=True) if db.exists() else None
    try:
        p = make_plan(s, con, history_days=history_days)
    finally:
        if con is not None:
            con.close()
    for line in p.lines():
        typer.echo(line)

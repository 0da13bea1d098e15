"""`abkit report`: one self-contained HTML report from the stored analysis results."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from abkit.cli.app import app, user_errors


@app.command()
@user_errors
def report(
    spec: Annotated[Path, typer.Argument(help="Experiment spec (YAML).")],
    db: Annotated[Path, typer.Option(help="DuckDB warehouse file.")] = Path("abkit.duckdb"),
    out: Annotated[Path, typer.Option("--out", help="HTML file to write.")] = Path("report.html"),
    lang: Annotated[str, typer.Option("--lang", help="Label language: zh or en (metric keys stay English).")] = "zh",
    png: Annotated[Path | None, typer.Option("--png", help="Also write PNGs of the figures into this folder.")] = None,
    result_json: Annotated[
        Path | None, typer.Option("--result", help="Use this analysis JSON instead of the stored result.")
    ] = None,
) -> None:
    """Write the experiment report: decision, health, lifts, trends, segments, texts, power, method."""
    import json

    from abkit.errors import AbkitError
    from abkit.spec import load_spec
    from abkit.warehouse import connect
    from reports import source
    from reports.build import write_report
    from reports.i18n import check_lang

    check_lang(lang)
    s = load_spec(spec)
    latest, history, extras, daily = None, [], {}, []
    if result_json is not None:
        try:
            latest = json.loads(result_json.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise AbkitError(f"{result_json}: not valid JSON ({exc})") from None
        if not isinstance(latest, dict):
            raise AbkitError(f"{result_json}: not an analysis result (expected a JSON object)")
    if db.exists():
        con = connect(db, read_only=True)
        try:
            stored, history = source.latest_and_history(source.stored_results(con, s.key))
            latest = latest or stored
            extras["health"] = source.health(con, s)
            daily = source.daily_exposures(con, s)
        finally:
            con.close()
    elif latest is None:
        raise AbkitError(f"{db}: no such database (ingest some logs first)")
    if latest is None:
        con = connect(db)  # the analysis materializes working tables
        try:
            latest = source.run_analysis(s, con)
        finally:
            con.close()
    if not latest.get("daily") and daily:
        extras["daily"] = daily
    if not latest.get("sql"):
        extras["sql"] = source.analysis_sql(s)
    path = write_report(out, s, latest, history=history, extras=extras, lang=lang, png_dir=png)
    size_mb = path.stat().st_size / 1e6
    action = (latest.get("decision") or {}).get("action", "no_decision")
    typer.echo(f"wrote {path} ({size_mb:.1f} MB) — decision: {action}")
    if png is not None:
        typer.echo(f"wrote PNGs to {png}")

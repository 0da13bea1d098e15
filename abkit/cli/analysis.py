"""`abkit analyze` and `abkit plan`: parse arguments, call one library function, print."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer

from abkit.cli.app import app, check_memory_limit, user_errors
from abkit.result import AnalysisResult


def _parse_ts(value: str | None, option: str = "--as-of") -> dt.datetime | None:
    """An ISO 8601 option value as naive UTC (no offset = UTC); None stays None."""
    from abkit.errors import AbkitError
    from abkit.schema import PLAUSIBLE

    if value is None:
        return None
    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        t = t.astimezone(dt.UTC).replace(tzinfo=None) if t.tzinfo else t
    except ValueError:
        raise AbkitError(f"{option}: {value!r} is not an ISO 8601 timestamp (e.g. 2026-11-08T00:00:00Z)") from None
    except OverflowError:  # e.g. 0001-01-01 with an offset east of UTC
        t = None
    if t is None or not PLAUSIBLE.ts_min <= t < PLAUSIBLE.ts_max:
        raise AbkitError(f"{option}: {value!r} is outside {PLAUSIBLE.ts_min:%Y-%m-%d} … {PLAUSIBLE.ts_max:%Y-%m-%d}")
    return t


@app.command()
@user_errors
def analyze(
    spec: Path = typer.Argument(..., help="Experiment spec (YAML)."),
    db: Path = typer.Option(Path("abkit.duckdb"), help="DuckDB warehouse file."),
    json_out: Path = typer.Option(None, "--json", help="Write the analysis JSON (docs/interface.md, Analysis JSON) here."),
    dimension: list[str] = typer.Option([], "--dimension", help="Breakdown by this exposure/user column (repeatable)."),
    as_of: str = typer.Option(None, "--as-of", help="Analyze what was known at this UTC time: events before it "
                              "that had been ingested by then (ingestion time, not event time; the cumulative "
                              "chart is by event day)."),
    show_sql: bool = typer.Option(False, "--show-sql", help="Print the SQL (with bound values) and exit."),
    memory_limit: str = typer.Option(None, "--memory-limit", help="DuckDB memory limit, e.g. 3GB."),
    no_text: bool = typer.Option(False, "--no-text-metrics", help="Skip the diversity block."),
    engine: str = typer.Option("duckdb", "--engine", help="duckdb (the --db warehouse, or --exposures files) or spark."),
    exposures: str = typer.Option(None, "--exposures", help="Raw exposures: Parquet file/folder/glob/URI or catalog table."),
    events: str = typer.Option(None, "--events", help="Raw events (like --exposures)."),
    reasons: str = typer.Option(None, "--reasons", help="Raw reasons (text metrics need them)."),
    items: str = typer.Option(None, "--items", help="Raw items catalog."),
    users: str = typer.Option(None, "--users", help="Raw users (segment and tag columns for --dimension)."),
    spark_conf: list[str] = typer.Option([], "--spark-conf",
                                         help="key=value Spark setting (repeatable), e.g. spark.master=spark://host:7077."),
    timings: bool = typer.Option(False, "--timings", help="Print the wall seconds of each analysis block (stderr)."),
    incremental: bool = typer.Option(
        False, "--incremental", help="Keep the experiment's per-user state in the warehouse and refresh it from the "
        "rows ingested since the last --incremental analysis (same result; the first run builds the state)."),
) -> None:
    """Attribute events, compare arms, apply the decision rule; print a table and write JSON.

    With --incremental the experiment's per-user state is stored in the DuckDB warehouse and later
    --incremental analyses read only the rows ingested since (same result). With --engine spark (or
    --exposures/--events on duckdb) the raw log files are read directly: rows are validated and
    deduplicated by the same SQL on either engine, nothing is stored, and every analysis is full."""
    from abkit.atomic import check_output_path
    from abkit.spec import load_spec
    from abkit.warehouse import connect
    from experiments.analysis.analyze import analysis_sql
    from experiments.analysis.analyze import analyze as run_analysis
    from experiments.analysis.incremental import Refresh
    from experiments.analysis.store import store_result

    s = load_spec(spec)
    t = _parse_ts(as_of)
    mem = check_memory_limit(memory_limit)
    if json_out is not None:
        check_output_path(json_out)
    if show_sql:
        typer.echo(analysis_sql(s, as_of=t, dimensions=dimension))
        return
    block_seconds: dict[str, float] = {}
    if engine not in ("duckdb", "spark"):
        from abkit.errors import AbkitError

        raise AbkitError(f"--engine {engine!r}: expected duckdb or spark")
    if engine == "spark" or exposures is not None or events is not None:
        result = _analyze_files(s, engine, t, dimension, not no_text, mem, spark_conf, block_seconds,
                                exposures=exposures, events=events, reasons=reasons, items=items, users=users)
        _print_and_write(result, json_out)
        _print_timings(block_seconds, timings)
        return
    if not db.exists():
        from abkit.errors import AbkitError

        raise AbkitError(f"{db}: no such database (ingest some logs first)")
    con = connect(db, memory_limit=mem)
    refreshes: list[Refresh] = []
    try:
        result = run_analysis(s, con, as_of=t, dimensions=dimension, text_metrics=not no_text, timings=block_seconds,
                              state="auto" if incremental else "off", state_log=refreshes)
        store_result(con, result)
    finally:
        con.close()
    if incremental:
        typer.echo(refreshes[-1].describe())
    _print_and_write(result, json_out)
    _print_timings(block_seconds, timings)


def _print_timings(seconds: dict[str, float], show: bool) -> None:
    """`--timings`: one line per block with its wall seconds, then the total, on stderr."""
    if not show:
        return
    width = max(map(len, seconds), default=5)
    for name, s in seconds.items():
        typer.echo(f"{name:<{width}}  {s:8.2f} s", err=True)
    typer.echo(f"{'total':<{width}}  {sum(seconds.values()):8.2f} s", err=True)


def _analyze_files(spec, engine: str, as_of, dimensions, text_metrics: bool, memory_limit, spark_conf,
                   timings: dict[str, float], **locations):
    """Analyze raw log files on DuckDB (in memory) or Spark; nothing is stored."""
    from abkit.errors import AbkitError
    from experiments.analysis.engines import Sources
    from experiments.analysis.sources import analyze_sources

    if locations["exposures"] is None or locations["events"] is None:
        raise AbkitError(f"--engine {engine} reads raw logs: give both --exposures PATH and --events PATH")
    sources = Sources(**locations)
    if engine == "spark":
        from experiments.analysis.engines.spark_engine import SparkEngine, parse_conf

        eng = SparkEngine.start(parse_conf(spark_conf))
        try:
            return analyze_sources(spec, eng, sources, as_of=as_of, dimensions=dimensions, text_metrics=text_metrics,
                                   timings=timings)
        finally:
            eng.spark.stop()
    import duckdb

    from experiments.analysis.engines import DuckDBEngine

    con = duckdb.connect()
    if memory_limit:
        con.execute("SET memory_limit = ?", [memory_limit])
    try:
        return analyze_sources(spec, DuckDBEngine(con), sources, as_of=as_of, dimensions=dimensions,
                               text_metrics=text_metrics, timings=timings)
    finally:
        con.close()


def print_result(result: AnalysisResult, console=None) -> None:
    """The analysis as text. A pipe or a log gets every column with full values; a terminal gets
    the compact columns, readable at 80 columns (everything else is in the JSON)."""
    from rich.text import Text

    from abkit.cli.output import make_console, print_table
    from experiments.analysis import console as text

    con = console or make_console()
    compact = con.is_terminal and con.width < 160
    for line in text.header_lines(result):
        con.print(Text(line))
    metric_cols = text.COMPACT_METRIC_COLUMNS if compact else text.METRIC_COLUMNS
    print_table(None, metric_cols, text.metric_rows(result, metric_cols), right=text.NUMERIC_COLUMNS, console=con)
    for line in text.decision_lines(result):
        con.print(Text(line))
    breakdown_cols = text.COMPACT_BREAKDOWN_COLUMNS if compact else text.BREAKDOWN_COLUMNS
    for name in result.breakdowns:
        print_table(f"breakdown by {name} (family breakdown:{name})", breakdown_cols,
                    text.breakdown_rows(result, name, breakdown_cols), right=text.NUMERIC_COLUMNS, console=con)
    for note in result.notes:
        con.print(Text(f"note: {note}"))
    if compact:
        con.print(Text("(compact view: every column is in the --json output, or pipe this command)"))


def _print_and_write(result: AnalysisResult, json_out: Path | None) -> None:
    import json

    from abkit.atomic import atomic_write_text

    print_result(result)
    if json_out is not None:
        atomic_write_text(json_out, json.dumps(result.to_json(), ensure_ascii=False, indent=2, allow_nan=False))
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
    from experiments.analysis.plan import plan as make_plan

    s = load_spec(spec)
    con = connect(db, read_only=True) if db.exists() else None
    try:
        p = make_plan(s, con, history_days=history_days)
    finally:
        if con is not None:
            con.close()
    for line in p.lines():
        typer.echo(line)

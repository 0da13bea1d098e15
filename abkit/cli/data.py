"""Commands that move data in and out: `abkit ingest` and `abkit assign`."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from abkit.cli.app import app, user_errors


class LogTable(enum.StrEnum):
    exposures = "exposures"
    events = "events"
    reasons = "reasons"
    items = "items"
    users = "users"


def expand_directories(paths: list[Path]) -> list[Path]:
    """Directories (e.g. an `abkit serve` log directory) become their finished log files, sorted;
    hidden and temporary names (parts still being written) are skipped."""
    from abkit.errors import AbkitError
    from experiments.ingest.files import FORMATS

    out: list[Path] = []
    for p in paths:
        if not p.is_dir():
            out.append(p)
            continue
        found = sorted(f for f in p.iterdir() if f.is_file() and not f.name.startswith(".")
                       and f.suffix.lower() != ".tmp" and f.name.lower().removesuffix(".gz").endswith(tuple(FORMATS)))
        if not found:
            raise AbkitError(f"{p}: no finished log files in this directory")
        out.extend(found)
    return out


@app.command()
@user_errors
def ingest(
    table: Annotated[LogTable, typer.Argument(help="Target table.")],
    files: Annotated[list[Path], typer.Argument(help="Parquet, CSV or JSON Lines files (.gz ok), or directories of them (an `abkit serve` log directory).")],
    db: Annotated[Path, typer.Option("--db", help="DuckDB warehouse file.")] = Path("abkit.duckdb"),
    ts_range: Annotated[str, typer.Option(
        "--ts-range", help="Plausible timestamps FROM..TO (UTC, TO exclusive); rows outside are quarantined.")
    ] = "2000-01-01..2100-01-01",
    max_revenue: Annotated[float, typer.Option(
        "--max-revenue", help="Plausible revenue per event; larger values are quarantined.")] = 1e9,
) -> None:
    """Load log files into the warehouse: bad rows are quarantined, re-ingesting is a no-op."""
    from abkit.cli.output import make_console, print_table
    from abkit.warehouse import open_warehouse
    from experiments.ingest.files import ingest_files

    plausible = _plausible(ts_range, max_revenue)
    with open_warehouse(db) as con:
        report = ingest_files(con, table.value, expand_directories(files), plausible=plausible)
    counts = ("read", "accepted", "quarantined", "duplicates", "warnings")
    rows = [*report.files, report.total] if len(report.files) > 1 else report.files
    console = make_console()
    print_table(f"ingest {report.table} → {db}", ("file", "format", *counts),
                [(f.file, f.format, *(f"{getattr(f, c):,}" for c in counts)) for f in rows],
                right=counts, console=console)
    for key, n in report.total.warning_counts.items():
        console.print(f"warning: {n:,} × {key}")
    if report.total.quarantined:
        console.print(f"{report.total.quarantined:,} rows quarantined: "
                      f"SELECT * FROM quarantine WHERE table_name = '{report.table}'")


def _plausible(ts_range: str, max_revenue: float):
    """--ts-range and --max-revenue as abkit.schema.Plausible, or a one-line error."""
    import datetime as dt

    from abkit.errors import AbkitError
    from abkit.schema import Plausible

    parts = ts_range.split("..")
    try:
        if len(parts) != 2:
            raise ValueError
        lo, hi = (dt.datetime.fromisoformat(p.strip().replace("Z", "+00:00")) for p in parts)
    except ValueError:
        raise AbkitError(f"--ts-range {ts_range!r}: expected FROM..TO, e.g. 2000-01-01..2100-01-01") from None
    lo, hi = (t.astimezone(dt.UTC).replace(tzinfo=None) if t.tzinfo else t for t in (lo, hi))
    try:
        return Plausible(ts_min=lo, ts_max=hi, revenue_max=max_revenue)
    except ValueError as exc:
        raise AbkitError(f"--ts-range/--max-revenue: {exc}") from None


@app.command()
@user_errors
def assign(
    spec: Annotated[Path, typer.Argument(help="Experiment spec (YAML).")],
    users: Annotated[Path, typer.Option("--users", help="CSV or Parquet file with a user_id column.")],
    out: Annotated[Path, typer.Option("--out", help="Output .csv or .parquet: user_id, arm (empty/null = not enrolled).")],
) -> None:
    """Assign users to arms exactly as GrowthBook's SDKs would (same seed, weights, coverage)."""
    from abkit.spec import load_spec
    from experiments.assign import assign_users_file

    counts = assign_users_file(load_spec(spec), users, out)
    total = sum(counts.values())
    parts = ", ".join(f"{arm if arm is not None else '(not enrolled)'}: {n:,}" for arm, n in counts.items())
    typer.echo(f"{out}: {total:,} users — {parts}")

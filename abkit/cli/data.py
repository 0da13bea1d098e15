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
) -> None:
    """Load log files into the warehouse: bad rows are quarantined, re-ingesting is a no-op."""
    from rich.console import Console
    from rich.table import Table

    from abkit.warehouse import open_warehouse
    from experiments.ingest.files import ingest_files

    with open_warehouse(db) as con:
        report = ingest_files(con, table.value, expand_directories(files))
    out = Table(title=f"ingest {report.table} → {db}")
    for col in ("file", "format", "read", "accepted", "quarantined", "duplicates", "warnings"):
        out.add_column(col, justify="left" if col in ("file", "format") else "right")
    rows = [*report.files, report.total] if len(report.files) > 1 else report.files
    for f in rows:
        out.add_row(f.file, f.format, *(f"{v:,}" for v in (f.read, f.accepted, f.quarantined, f.duplicates, f.warnings)))
    console = Console(soft_wrap=True)
    console.print(out)
    for key, n in report.total.warning_counts.items():
        console.print(f"warning: {n:,} × {key}")
    if report.total.quarantined:
        console.print(f"{report.total.quarantined:,} rows quarantined: SELECT * FROM quarantine WHERE table_name = '{report.table}'")


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

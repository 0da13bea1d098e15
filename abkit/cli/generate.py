"""`abkit generate`: write every arm's reasons into the `reasons` table (resumable, idempotent)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from abkit.cli.app import app, user_errors

_SHARD = re.compile(r"^(\d+)/(\d+)$")


@app.command()
@user_errors
def generate(
    spec: Annotated[Path, typer.Argument(help="Experiment spec (YAML).")],
    db: Annotated[Path, typer.Option(help="DuckDB warehouse file.")] = Path("abkit.duckdb"),
    items: Annotated[Path | None, typer.Option(
        help="Candidate items (Parquet/CSV/JSONL; full rows or bare item_id).")] = None,
    arm: Annotated[list[str] | None, typer.Option(
        help="Only this arm (repeatable). Default: every arm with a generator.")] = None,
    batch_size: Annotated[int, typer.Option(help="Requests per generator call.")] = 256,
    shard: Annotated[str | None, typer.Option(
        help="i/n: only the (item, segment) pairs of shard i of n (0-based).")] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Generate the reasons each arm needs for every candidate (item, segment); a killed run resumes."""
    from abkit.cli.output import quiet_native_logs
    from abkit.errors import AbkitError
    from abkit.spec import load_spec
    from abkit.warehouse import connect
    from generators.runner import read_items_file, run_generate

    shard_tuple = None
    if shard is not None:
        m = _SHARD.match(shard.strip())
        if not m:
            raise AbkitError(f"--shard {shard!r}: expected i/n, e.g. 0/4")
        shard_tuple = (int(m.group(1)), int(m.group(2)))
    s = load_spec(spec)
    frame = read_items_file(items) if items is not None else None
    con = connect(db)
    try:
        with quiet_native_logs():
            report = run_generate(s, con, items=frame, arms=arm or None, batch_size=batch_size, shard=shard_tuple,
                                  progress=progress, log=typer.echo)
    finally:
        con.close()
    typer.echo(report.summary())

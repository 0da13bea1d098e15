"""`abkit serve` (the reasons sidecar) and `abkit rollout` (one guarded ramp step)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from abkit.cli.app import app, user_errors


@app.command()
@user_errors
def serve(
    specs: Annotated[list[Path], typer.Argument(help="Specs of the experiments to serve (YAML).")],
    db: Annotated[Path, typer.Option("--db", help="DuckDB warehouse (read-only, only while loading).")] = Path("abkit.duckdb"),
    log_dir: Annotated[Path, typer.Option("--log-dir", help="Directory for exposure log parts (abkit ingest exposures DIR).")] = Path("exposures"),
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8080,
    confirm_renders: Annotated[bool, typer.Option(
        "--confirm-renders", help="Log only items the client confirms with POST /v1/exposures (tokens).")] = False,
    flush_ms: Annotated[int, typer.Option(help="Exposure log flush interval (ms): at most this much is lost on kill -9.")] = 200,
) -> None:
    """Serve each running experiment's arm and reason texts over HTTP and log every exposure.

    POST /v1/reasons {"user_id", "items", "attributes"}; GET /healthz; GET /metrics;
    SIGHUP or POST /admin/reload (loopback) reloads specs, coverage and reasons.
    """
    from abkit.errors import AbkitError
    from serving.http import serve as run_server

    if not 0 < port < 65536:
        raise AbkitError(f"--port {port}: not a TCP port")
    if flush_ms < 1:
        raise AbkitError("--flush-ms must be >= 1")
    run_server(specs, db, log_dir, host=host, port=port, confirm=confirm_renders, flush_ms=flush_ms)


@app.command()
@user_errors
def rollout(
    spec: Annotated[Path, typer.Argument(help="Experiment spec with a rollout plan (YAML).")],
    db: Annotated[Path, typer.Option("--db", help="DuckDB warehouse file.")] = Path("abkit.duckdb"),
    now: Annotated[str | None, typer.Option(help="Decide as of this time (ISO; no offset = UTC). Default: now.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the step; record nothing.")] = False,
    user: Annotated[str | None, typer.Option("--user", help="Who takes the step (recorded). Default: login name.")] = None,
) -> None:
    """One guarded ramp step (for cron): advance coverage, hold, or roll back to 0 when harmed.

    Advances when the step ran min_days with min_users_per_arm and no guardrail is shown worse and
    no SRM; rolls back on a harmed guardrail or an SRM; records who/when/why. Idempotent.
    """
    from abkit.cli.analysis import _parse_ts
    from abkit.spec import load_spec
    from abkit.warehouse import connect, os_user
    from serving.rollout import rollout_step

    at = _parse_ts(now, "--now") or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    s = load_spec(spec)
    con = connect(db, read_only=dry_run)
    try:
        step = rollout_step(s, con, now=at, actor=user or os_user(), dry_run=dry_run)
    finally:
        con.close()
    typer.echo(step.line())

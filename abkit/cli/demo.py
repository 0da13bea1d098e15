"""`abkit demo`: the whole loop (world → generate → plan → simulate → ingest → analyze → report)."""

from __future__ import annotations

from pathlib import Path

import typer

from abkit.cli.app import app, user_errors


@app.command()
@user_errors
def demo(
    out: Path = typer.Option(Path("demo"), "--out", help="Folder for the warehouse, logs and report.html."),
    users: int = typer.Option(None, "--users", help="Simulated users (default: sized by a pilot and abkit plan)."),
    max_users: int = typer.Option(800_000, "--max-users", help="Cap on the planned number of users."),
    days: int = typer.Option(None, "--days", help="Days of traffic (default: the spec's window)."),
    items: int = typer.Option(3000, "--items", help="Catalog size."),
    candidates: int = typer.Option(160, "--candidates", help="Items the experiment recommends."),
    seed: int = typer.Option(7, "--seed", help="Seed of the world and the traffic."),
    lang: str = typer.Option("zh", "--lang", help="Report language: zh or en."),
) -> None:
    """Run the whole loop on the embedded default and write DIR/report.html."""
    from abkit.cli.demo_pipeline import DemoOptions, main
    from abkit.cli.output import quiet_native_logs

    with quiet_native_logs():
        main(DemoOptions(out=out, users=users, max_users=max_users, days=days, items=items,
                         candidates=candidates, seed=seed, lang=lang))

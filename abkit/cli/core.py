"""Commands about specs and the warehouse itself."""

from __future__ import annotations

from pathlib import Path

import typer

from abkit.cli.app import app, user_errors


@app.command()
@user_errors
def validate(spec: Path = typer.Argument(..., help="Experiment spec (YAML).")) -> None:
    """Check a spec and print its arms, window and metrics."""
    from abkit.spec import load_spec

    s = load_spec(spec)
    lo, hi = s.window_utc()
    typer.echo(f"{spec}: ok — {s.key}: {len(s.arms)} arms, control {s.control_arm!r}")
    typer.echo(f"  window ({s.timezone}): {s.start:%Y-%m-%d} 00:00 – {s.end:%Y-%m-%d} 00:00 (end exclusive)")
    if s.timezone != "UTC":
        typer.echo(f"  window (UTC): {lo:%Y-%m-%d %H:%M} – {hi:%Y-%m-%d %H:%M}")
    typer.echo("  weights (normalized to 1): " + ", ".join(f"{a.name} {a.weight:.6g}" for a in s.arms))
    typer.echo(f"  primary {s.primary_metric}; secondary {', '.join(s.secondary)}")


@app.command()
@user_errors
def status(db: Path = typer.Option(Path("abkit.duckdb"), help="DuckDB warehouse file.")) -> None:
    """List experiments with their lifecycle state (draft → running → stopped → shipped/rolled_back); a ship with its arm and coverage."""
    from abkit.warehouse import connect, current_coverage, experiment_states

    con = connect(db, read_only=True)
    try:
        rows = experiment_states(con)
        steps = {exp: current_coverage(con, exp) for exp, state, _ in rows if state == "shipped"}
    finally:
        con.close()
    if not rows:
        typer.echo("no experiments recorded")
    for exp, state, when in rows:
        step = steps.get(exp)
        ship = (f"  arm {step.shipped_arm} at {step.coverage:.0%} (phase {step.phase})"
                if step is not None and step.shipped_arm is not None else "")
        typer.echo(f"{exp:30s} {state:12s} {when}{ship}")

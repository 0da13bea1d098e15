# ruff: noqa: B008  (typer declares options as argument defaults)
"""`abkit simulate` and `abkit aa`: the synthetic traffic simulator and A/A calibration."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import typer

from abkit.cli.app import app, user_errors


@app.command("simulate")
@user_errors
def simulate_cmd(
    spec_path: Path = typer.Argument(..., metavar="SPEC", help="experiment spec (YAML)"),
    db: Path = typer.Option(..., "--db", help="DuckDB warehouse to write the simulated logs into"),
    users: int | None = typer.Option(None, "--users", min=1, help="users (generated when the users table is empty; default 20000)"),
    days: int | None = typer.Option(None, "--days", min=1, help="days to simulate from the start (default: the spec's window)"),
    seed: int = typer.Option(0, "--seed", help="random seed (same seed, same logs)"),
    truth: Path | None = typer.Option(None, "--truth", help="write the true metric values per arm (JSON)"),
    items: int = typer.Option(2000, "--items", min=1, help="catalog size when the items table is empty"),
    mode: str = typer.Option("normal", "--mode", help="normal, or aa (every arm shows the control's texts)"),
    srm_bug: float = typer.Option(0.0, "--srm-bug", help="share of the last arm's users lost (a broken client)"),
    novelty: bool = typer.Option(False, "--novelty", help="treatment effects start doubled and decay over days"),
    bots: int = typer.Option(0, "--bots", min=0, help="bot users with thousands of exposures"),
    late_events: float = typer.Option(0.0, "--late-events", help="share of events delivered in a later batch"),
    duplicates: float = typer.Option(0.0, "--duplicates", help="share of rows delivered twice"),
    clock_skew: float = typer.Option(0.0, "--clock-skew", help="seconds of client clock skew (10% of users)"),
    promo_day: str | None = typer.Option(None, "--promo-day", help="a 双11-style promotion day (YYYY-MM-DD)"),
    out_dir: Path | None = typer.Option(None, "--out-dir", help="keep the simulated Parquet files here"),
    chunk_users: int = typer.Option(200_000, "--chunk-users", min=1, help="users per chunk (bounds memory)"),
) -> None:
    """Simulate the experiment's traffic into DB (through ingestion); optionally write the truth."""
    import tempfile

    from abkit.errors import AbkitError
    from abkit.spec import load_spec
    from abkit.warehouse import open_warehouse
    from experiments.simulate.pipeline import simulate_into
    from experiments.simulate.traffic import SimOptions

    spec = load_spec(spec_path)
    try:
        promo = dt.date.fromisoformat(promo_day) if promo_day else None
    except ValueError:
        raise AbkitError(f"--promo-day: {promo_day!r} is not a date (YYYY-MM-DD)") from None
    options = SimOptions(seed=seed, days=days, mode=mode, srm_bug=srm_bug, novelty=novelty, bots=bots,
                         late_events=late_events, duplicates=duplicates, clock_skew=clock_skew, promo_day=promo,
                         chunk_users=chunk_users)
    with open_warehouse(db) as con, tempfile.TemporaryDirectory(prefix="abkit-sim-") as tmp:
        out = simulate_into(spec, con, options, n_users=users, n_items=items, out_dir=out_dir or tmp,
                            progress=True, truth_path=truth)
    c = out.counts
    typer.echo(f"simulated {spec.key}: {c['users_enrolled']} users, {c['exposures']} exposures, "
               f"{c['events']} events in {out.seconds:.1f}s; fallback rate {out.fallback_rate['overall']:.2%}")
    for name in ("ingested_exposures", "ingested_events", "ingested_events_late"):
        if name in c:
            typer.echo(f"  {name.replace('_', ' ')}: {c[name]}")
    for arm, vals in out.truth["arms"].items():
        typer.echo(f"  truth {arm}: ctr {vals['ctr']:.5f}  cvr {vals['cvr'] or 0:.5f}  "
                   f"revenue/user {vals['revenue_per_user'] or 0:.3f}")
    if out.truth_written:
        typer.echo(f"truth written to {truth}")
    if mode != "aa" and out.fallback_rate["overall"] > 0.05:
        typer.echo(f"warning: {out.fallback_rate['overall']:.0%} of exposures showed the fallback text (no reason "
                   "for the item and segment), which makes the arms look alike; generate the missing reasons",
                   err=True)
    for warning in out.warnings:
        typer.echo(f"warning: {warning}", err=True)


@app.command("aa")
@user_errors
def aa_cmd(
    spec_path: Path = typer.Argument(..., metavar="SPEC", help="experiment spec (YAML)"),
    runs: int = typer.Option(..., "--runs", min=1, help="number of simulated A/A experiments"),
    users: int = typer.Option(20_000, "--users", min=20, help="users per run"),
    json_out: Path = typer.Option(..., "--json", help="write the calibration result here"),
    seed: int = typer.Option(0, "--seed", help="random seed"),
    items: int = typer.Option(2000, "--items", min=10, help="catalog size of the simulated world"),
    runs_per_batch: int = typer.Option(0, "--runs-per-batch", min=0, help="runs per SQL batch (0 = automatic)"),
) -> None:
    """Run N A/A experiments end to end (simulation → SQL → stats); report false-positive rates."""
    from abkit.atomic import atomic_write_text, check_output_path
    from abkit.spec import load_spec
    from experiments.simulate.aa import run_aa
    from generators.corpus import build_corpus

    spec = load_spec(spec_path)
    check_output_path(json_out)
    half_width = 1.96 * math.sqrt(spec.alpha * (1 - spec.alpha) / runs)
    if half_width > 0.03:
        needed = math.ceil(1.96**2 * spec.alpha * (1 - spec.alpha) / 0.02**2)
        typer.echo(f"warning: with {runs} runs the false-positive rate is only known to about ±{half_width * 100:.0f} "
                   f"points (95%); use --runs {needed} or more for ±2 points", err=True)
    result = run_aa(spec, runs=runs, n_users=users, seed=seed, n_items=items,
                    runs_per_batch=runs_per_batch or None, progress=True,
                    texts_for=lambda items, s: build_corpus(items, personas=[None], seed=s))
    atomic_write_text(json_out, json.dumps(result, ensure_ascii=False, indent=2))
    typer.echo(f"A/A: {runs} runs × {users} users in {result['seconds']:.0f}s (alpha {result['alpha']})")
    typer.echo(f"{'metric':<20} {'FPR':>7} {'95% CI':>17}")
    for m, rate in result["false_positive_rate"].items():
        lo, hi = result["false_positive_ci"][m]
        shown = "n/a" if rate is None else f"{rate:.3f}"  # None: no run could be tested (too few events)
        typer.echo(f"{m:<20} {shown:>7}  [{lo:.3f}, {hi:.3f}]")
    typer.echo(f"written to {json_out}")

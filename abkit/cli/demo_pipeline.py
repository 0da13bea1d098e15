"""`abkit demo`: the whole loop on the embedded default, with known truth.

world (catalog, users) → reasons for a three-arm experiment (template control, neural generic,
neural personalized) with the shipped model → a pilot and `abkit plan` to size the experiment →
two weeks of simulated traffic → ingest → a weekly as-of analysis (history) and the final
analysis → `report.html`, plus a summary of true vs estimated effects.

Every step calls the same library function as its CLI command; nothing here is demo-only
logic except choosing sizes and printing the summary.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console
from rich.text import Text

from abkit.atomic import atomic_write_text
from abkit.cli.output import make_console, print_table
from abkit.errors import AbkitError
from abkit.spec import Spec, load_spec

SPEC_FILE = Path(__file__).resolve().parents[2] / "experiments" / "reason_three_arm.yaml"
T = TypeVar("T")


@dataclass
class DemoOptions:
    out: Path = Path("demo")
    users: int | None = None  # None: sized by the pilot's plan (capped by max_users)
    max_users: int = 800_000
    days: int | None = None  # None: the spec's window
    items: int = 3000  # catalog size
    candidates: int = 160  # items the experiment recommends (each gets reasons per arm × segment)
    pilot_users: int = 20_000
    pilot_days: int = 4
    seed: int = 7
    # days between the stored as-of snapshots: weekly. The report's over-time chart is the final analysis'
    # `cumulative` block (from the data, per day), so a snapshot adds to the results history only, at the
    # cost of a whole analysis each (3-day snapshots were a seventh of the demo's CPU)
    snapshot_every: int = 7
    lang: str = "zh"
    spec_path: Path = SPEC_FILE


@dataclass
class DemoSummary:
    out: Path
    report: Path
    result: dict[str, Any]
    truth: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)
    plan_lines: list[str] = field(default_factory=list)
    users: int = 0


class _Steps:
    """Numbered steps with wall times, printed as they finish."""

    def __init__(self, console: Console, total: int) -> None:
        self.console, self.total, self.n = console, total, 0
        self.timings: dict[str, float] = {}

    @contextmanager
    def step(self, name: str, what: str) -> Iterator[None]:
        self.n += 1
        self.console.print(Text.assemble((f"[{self.n}/{self.total}]", "bold cyan"), f" {what}"))
        t0 = time.perf_counter()
        yield
        self.timings[name] = round(time.perf_counter() - t0, 2)
        self.console.print(f"      done in {self.timings[name]:.1f} s")


def _ingest(con: Any, table: str, path: Path) -> None:
    from experiments.ingest.files import ingest_files

    ingest_files(con, table, [str(path)])


def _pilot_plan(spec: Spec, opts: DemoOptions, reasons: Any, items_path: Path, users_path: Path,
                console: Console) -> tuple[Any, list[str]]:
    """Run a short pilot in its own warehouse and size the experiment with `abkit plan` (abkit.planning);
    returns the plan (experiments.analysis.plan.Plan) and its printed lines."""
    from abkit.warehouse import connect
    from experiments.analysis.plan import plan
    from experiments.simulate.pipeline import simulate_into
    from experiments.simulate.traffic import SimOptions

    pilot_db = opts.out / "pilot.duckdb"
    pilot_db.unlink(missing_ok=True)
    con = connect(pilot_db)
    try:
        _ingest(con, "items", items_path)
        _ingest(con, "users", users_path)
        con.register("generated_reasons", reasons)
        con.execute("INSERT INTO reasons SELECT * FROM generated_reasons")
        con.unregister("generated_reasons")
        simulate_into(spec, con, SimOptions(seed=opts.seed + 1000, days=opts.pilot_days),
                      n_users=opts.pilot_users, out_dir=opts.out / "pilot_logs", progress=False)
        p = plan(spec, con)
    finally:
        con.close()
    shutil.rmtree(opts.out / "pilot_logs", ignore_errors=True)
    pilot_db.unlink(missing_ok=True)
    for line in p.lines():
        console.print(f"      plan: {line}", markup=False)
    return p, p.lines()


def _daily_history(spec: Spec, con: Any, days: int, plan: Any, every: int = 1) -> int:
    """As-of analyses at the end of every `every`-th day, cut by event time (the demo ingests everything
    after the window, so an ingestion-time cut would see nothing); stored for the results history. The
    report's cumulative chart does not need them: it comes from the data by event day."""
    from experiments.analysis.analyze import analyze
    from experiments.analysis.store import store_result

    start, end = spec.window_utc()
    n = 0
    for d in range(every, days, max(every, 1)):
        as_of = start + dt.timedelta(days=d)
        if as_of >= end:
            break
        store_result(con, analyze(spec, con, as_of=as_of, as_of_ingested=False, text_metrics=False, plan=plan))
        n += 1
    return n


def run_demo(opts: DemoOptions, console: Console | None = None) -> DemoSummary:
    from abkit.cli.report import report_from_warehouse
    from abkit.warehouse import connect, set_experiment_state
    from abkit.world.catalog import make_catalog
    from experiments.analysis.analyze import analyze
    from experiments.analysis.planning import ExperimentPlan
    from experiments.analysis.store import store_result
    from experiments.simulate.pipeline import simulate_into
    from experiments.simulate.population import write_users
    from experiments.simulate.traffic import SimOptions
    from generators.runner import run_generate

    console = console or make_console()
    spec = load_spec(opts.spec_path)
    if spec.segments is None:  # personalized arms write one reason per persona of the world
        from abkit.world.vocab import SEGMENTS

        spec = spec.model_copy(update={"segments": list(SEGMENTS)})
    out = opts.out
    out.mkdir(parents=True, exist_ok=True)
    db = out / "abkit.duckdb"
    for stale in (db, out / "abkit.duckdb.wal"):
        stale.unlink(missing_ok=True)
    shutil.rmtree(out / "logs", ignore_errors=True)
    steps = _Steps(console, 7)
    days = opts.days or (spec.end - spec.start).days

    con = connect(db)
    try:
        with steps.step("world", f"world: {opts.items:,} catalog items, user population"):
            catalog = make_catalog(opts.items, seed=opts.seed)
            items_path = out / "items.parquet"
            catalog.to_parquet(items_path, index=False)
            _ingest(con, "items", items_path)
            candidates = catalog.sort_values("popularity", ascending=False).head(opts.candidates) \
                if "popularity" in catalog else catalog.head(opts.candidates)
            set_experiment_state(con, spec.key, "draft", "demo spec loaded")

        with steps.step("generate", f"reasons for {len(candidates)} candidate items × arms × segments"):
            report = run_generate(spec, con, items=candidates, progress=True)
            console.print(f"      {report.summary()}", markup=False)

        with steps.step("plan", f"pilot ({opts.pilot_users:,} users, {opts.pilot_days} days) and abkit plan"):
            pilot_users_path = write_users(opts.pilot_users, out / "pilot_users.parquet", seed=opts.seed + 1)
            reasons = con.execute("SELECT * FROM reasons WHERE experiment = ?", [spec.key]).df()
            pilot, plan_lines = _pilot_plan(spec, opts, reasons, items_path, Path(pilot_users_path), console)
            Path(pilot_users_path).unlink(missing_ok=True)
            needed = pilot.users_total
            # the one planned sample: the pilot's plan is the plan of every analysis below
            exp_plan = ExperimentPlan(pilot.users_per_arm, f"abkit plan on the pilot ({pilot.history})",
                                      pilot.sample_plan)
            if opts.users is not None:
                n_users = opts.users
            else:  # about 3 in 4 users of the population are exposed in two weeks: leave headroom
                n_users = min(opts.max_users, max(30_000, math.ceil(1.6 * (needed or 0))))
            console.print(f"      simulating {n_users:,} users")
            if needed and n_users < needed:
                console.print(f"      note: capped below the plan's {needed:,} users (use --max-users to raise)")

        with steps.step("simulate", f"{days} days of traffic with known truth, ingested"):
            users_path = write_users(n_users, out / "users.parquet", seed=opts.seed)
            _ingest(con, "users", Path(users_path))
            set_experiment_state(con, spec.key, "running", "demo traffic")
            sim = simulate_into(spec, con, SimOptions(seed=opts.seed, days=days), n_users=n_users,
                                out_dir=out / "logs", progress=True, truth_path=out / "truth.json")

        with steps.step("analyze", "as-of snapshots and the final analysis"):
            history = _daily_history(spec, con, days, exp_plan, opts.snapshot_every)
            result = analyze(spec, con, dimensions=["platform", "segment"], plan=exp_plan)
            store_result(con, result)
            data = result.to_json()
            atomic_write_text(out / "result.json", json.dumps(data, ensure_ascii=False, indent=2, allow_nan=False))
            set_experiment_state(con, spec.key, "stopped", f"analysis: {data['decision']['action']}")
            console.print(f"      {history} as-of snapshots (event time) + final; "
                          f"decision: {data['decision']['action']}")
    finally:
        con.close()

    with steps.step("report", "self-contained HTML report"):
        path, _ = report_from_warehouse(opts.spec_path, db, out / "report.html", lang=opts.lang)

    with steps.step("summary", "true vs estimated effects"):
        pass
    summary = DemoSummary(out=out, report=path, result=data, truth=sim.truth, timings=steps.timings,
                          plan_lines=plan_lines, users=n_users)
    atomic_write_text(out / "timings.json", json.dumps(steps.timings, indent=2))
    print_summary(summary, console)
    return summary


def _true_rel(truth: dict[str, Any], metric: str, arm: str, baseline: str) -> float | None:
    arms = truth.get("arms", {})
    try:
        t, c = arms[arm][metric], arms[baseline][metric]
    except KeyError:
        return None
    if t is None or not c:
        return None
    return t / c - 1


def print_summary(s: DemoSummary, console: Console) -> None:
    r = s.result
    d = r["decision"]
    rows = []
    for row in r["metrics"]:
        true = _true_rel(s.truth, row["metric"], row["arm"], row["baseline"])
        est, lo, hi = row.get("rel_lift"), row.get("rel_ci_low"), row.get("rel_ci_high")
        covers = "" if true is None or lo is None or hi is None else ("yes" if lo <= true <= hi else "no")
        rows.append((row["metric"], row["arm"], row["baseline"],
                     "—" if true is None else f"{true:+.2%}", "—" if est is None else f"{est:+.2%}",
                     "—" if lo is None else f"[{lo:+.2%}, {hi:+.2%}]", covers))
    print_table("true vs estimated relative lift", ("metric", "arm", "baseline", "true", "estimate", "95% CI", "covers"),
                rows, right=("true", "estimate", "95% CI", "covers"), console=console)
    users = ", ".join(f"{k}: {v:,}" for k, v in r["users"].items())
    arm = f" {d['arm']}" if d.get("arm") else ""
    console.print()
    console.print(Text.assemble(
        (f"Decision: {d['action']}{arm}.", "bold"),
        f" {s.users:,} simulated users over the window ({users} in the analysis); primary metric "
        f"{r['metrics'][0]['metric'] if r['metrics'] else '—'}. " + " ".join(d.get("reasons", []))))
    total = sum(s.timings.values())
    console.print()
    console.print(Text.assemble("Report: ", (str(s.report), "bold"),
                                f" ({s.report.stat().st_size / 1e6:.1f} MB). Total {total:.0f} s: "
                                + ", ".join(f"{k} {v:.0f}s" for k, v in s.timings.items())))


def main(opts: DemoOptions, echo: Callable[[str], None] | None = None) -> DemoSummary:
    if opts.candidates < 1 or opts.items < opts.candidates:
        raise AbkitError("--candidates must be between 1 and --items")
    return run_demo(opts)

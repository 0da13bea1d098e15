"""The demo orchestration (`abkit demo`): every step on a tiny template-only world (no TensorFlow)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from rich.console import Console

from abkit.cli.demo_pipeline import DemoOptions, main, run_demo
from abkit.errors import AbkitError
from abkit.warehouse import connect, experiment_states

SPEC = """\
key: tiny_demo
arms:
  - {name: control, weight: 0.5, generator: {type: template}}
  - {name: short, weight: 0.5, generator: {type: template, length: S}}
start: 2026-11-01
end: 2026-11-04
timezone: Asia/Shanghai
primary_metric: ctr
guardrails:
  - {metric: conversion_rate, margin: 0.05}
text_guardrails:
  - ad_law_violation_rate == 0
dimensions: [platform]
mde: 0.2
"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("demo")
    spec = out / "spec.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    (out / "abkit.duckdb").write_bytes(b"not a warehouse: a stale file from an earlier run")
    opts = DemoOptions(out=out, users=3000, items=120, candidates=12, pilot_users=1500, pilot_days=2,
                       seed=3, lang="en", spec_path=spec, snapshot_every=1)
    console = Console(record=True, width=120)
    with pytest.MonkeyPatch.context() as mp:  # the template-only path must not need the neural model
        for heavy in ("tensorflow", "keras"):
            mp.setitem(sys.modules, heavy, None)  # importing it now raises ImportError
        summary = run_demo(opts, console)
    return opts, summary, console.export_text()


def test_demo_runs_every_step_and_writes_its_outputs(demo) -> None:
    opts, s, text = demo
    assert list(s.timings) == ["world", "generate", "plan", "simulate", "analyze", "report", "summary"]
    assert s.report == opts.out / "report.html" and s.report.stat().st_size > 10_000
    assert "<html" in s.report.read_text(encoding="utf-8")[:2000].lower()
    assert json.loads((opts.out / "result.json").read_text(encoding="utf-8")) == s.result
    assert json.loads((opts.out / "timings.json").read_text(encoding="utf-8")) == s.timings
    # the pilot's warehouse and logs are cleaned up; the experiment's own are kept
    assert not (opts.out / "pilot.duckdb").exists() and not (opts.out / "pilot_logs").exists()
    assert (opts.out / "truth.json").exists()
    assert any(line.startswith("users per arm") for line in s.plan_lines)
    assert "Decision:" in text and "true vs estimated relative lift" in text


def test_demo_analysis_matches_the_warehouse_and_the_truth(demo) -> None:
    opts, s, _ = demo
    r = s.result
    assert r["experiment"] == "tiny_demo" and r["decision"]["action"] in {"ship", "stop", "keep_running",
                                                                         "no_decision"}
    assert set(r["users"]) == {"control", "short"} and 0 < sum(r["users"].values()) <= s.users == 3000
    assert set(s.truth["arms"]) == {"control", "short"}
    with connect(opts.out / "abkit.duckdb", read_only=True) as con:
        stored = con.execute("SELECT count(*) FROM results WHERE experiment = 'tiny_demo'").fetchone()[0]
        states = [state for exp, state, _ in experiment_states(con) if exp == "tiny_demo"]
        users = con.execute("SELECT count(*) FROM users").fetchone()[0]
    assert stored == 3  # as-of analyses after days 1 and 2 of the 3-day window, and the final one
    with connect(opts.out / "abkit.duckdb", read_only=True) as con:
        snapshots = [json.loads(x) for (x,) in con.execute(
            "SELECT result FROM results WHERE experiment = 'tiny_demo' AND as_of IS NOT NULL ORDER BY as_of").fetchall()]
    # cut by event time: the logs were ingested after the window, yet each snapshot has users, growing
    sizes = [sum(x["users"].values()) for x in snapshots]
    assert len(sizes) == 2 and 0 < sizes[0] < sizes[1] < sum(r["users"].values())
    # one sample size: the plan's users per arm is the planned number of every analysis
    (line,) = [x for x in s.plan_lines if x.startswith("users per arm: ")]
    planned = int(line.split(": ")[1].split(" ")[0].replace(",", ""))
    assert r["planned_users_per_arm"] == planned == snapshots[0]["planned_users_per_arm"]
    assert {v["arm"] for v in r["decision"]["arms"]} == {"short"}
    # the cumulative view from the data: one point per day of the window
    assert [p["date"] for p in r["cumulative"]] == ["2026-11-01", "2026-11-02", "2026-11-03"][:len(r["cumulative"])]
    assert len(r["cumulative"]) == 3
    assert states == ["stopped"]  # draft -> running -> stopped, the latest state
    assert users == 3000


def test_demo_rejects_more_candidates_than_items(tmp_path: Path) -> None:
    with pytest.raises(AbkitError, match="--candidates"):
        main(DemoOptions(out=tmp_path, items=10, candidates=20))
    assert not (tmp_path / "abkit.duckdb").exists()


def test_demo_report_does_not_depend_on_the_snapshots(demo) -> None:
    """The demo stores few as-of snapshots because the report's over-time chart is the final
    analysis' `cumulative` block: the page must be the same with or without the stored history."""
    from abkit.spec import load_spec
    from experiments.analysis.store import load_result
    from reports.build import build_report

    opts, _, _ = demo
    spec = load_spec(opts.spec_path)
    with connect(opts.out / "abkit.duckdb", read_only=True) as con:
        latest, history = load_result(con, spec.key)
    assert latest is not None and latest.cumulative and len(history) == 2
    assert build_report(spec, latest, history=history, lang="en") == build_report(spec, latest, history=[], lang="en")

"""The planning block: one planned number (abkit.planning) everywhere, power at the spec's MDE
with the users reached, against statsmodels; days to go from the growth of unique users."""

from __future__ import annotations

import math

import pytest
from statsmodels.stats.power import NormalIndPower

from abkit.planning import Baseline, plan_sample
from abkit.spec import parse_spec
from experiments.analysis.planning import ExperimentPlan, days_to_go, planning_block, se_from_ci

SPEC = {"key": "p", "arms": [{"name": "c", "weight": 0.5}, {"name": "t", "weight": 0.5}],
        "start": "2026-11-01", "end": "2026-11-08", "primary_metric": "revenue_per_user", "mde": 0.04}


def _row(lo: float | None, hi: float | None, lift: float = 0.01, arm: str = "t", metric: str = "revenue_per_user",
         baseline: str = "c") -> dict:
    return {"metric": metric, "arm": arm, "baseline": baseline, "rel_lift": lift, "rel_ci_low": lo, "rel_ci_high": hi}


def test_without_a_plan_power_comes_from_the_se_reached_and_needed_is_the_planned_number():
    spec = parse_spec({**SPEC, "planned_users_per_arm": 50_000})
    se, n = 0.011, 40_000
    z = 1.959963984540054
    block = planning_block(spec, [_row(0.01 - z * se, 0.01 + z * se)], {"c": n + 5, "t": n},
                           ExperimentPlan(50_000, "spec"), {"t": 3})
    assert block is not None
    (arm,) = block["arms"]
    assert arm["users_per_arm"] == n and arm["se_rel"] == pytest.approx(se, rel=1e-12)
    d = 0.04 / (se * math.sqrt(n / 2))
    assert arm["power"] == pytest.approx(NormalIndPower().power(effect_size=d, nobs1=n, alpha=0.05), rel=1e-9)
    assert arm["users_needed"] == 50_000 == block["planned_users_per_arm"]
    assert arm["users_to_go"] == 10_000 and arm["days_to_go"] == 3


def test_with_a_plan_power_is_the_plans_and_reaches_the_target_exactly_at_the_planned_sample():
    spec = parse_spec({**SPEC, "arms": [{"name": "c", "weight": 1}, {"name": "t", "weight": 1},
                                        {"name": "u", "weight": 1}]})
    plan = plan_sample(Baseline("mean", 10.0, 400.0), mde=0.04, arms=3, correction="holm")
    ep = ExperimentPlan(plan.per_arm, "history", plan)
    rows = [_row(-0.1, 0.1), _row(-0.1, 0.1, arm="u")]
    block = planning_block(spec, rows, {"c": plan.per_arm, "t": plan.per_arm, "u": plan.per_arm // 2}, ep, {"u": 4})
    assert block is not None
    t, u = block["arms"]
    # the plan splits alpha over the two treatment arms: power at alpha/2 = 0.025 (statsmodels, Cohen's d)
    d = 0.04 * 10.0 / math.sqrt(400.0)
    assert t["power"] == pytest.approx(NormalIndPower().power(effect_size=d, nobs1=plan.per_arm, alpha=0.025),
                                       rel=1e-6)
    assert t["power"] >= 0.8 > u["power"]
    assert t["users_to_go"] == 0 and t["days_to_go"] == 0
    assert u["users_to_go"] == plan.per_arm - plan.per_arm // 2 and u["days_to_go"] == 4


def test_power_depends_on_the_ci_width_not_the_observed_effect():
    spec = parse_spec(SPEC)
    users = {"c": 1000, "t": 1000}
    a = planning_block(spec, [_row(-0.05, 0.07, lift=0.01)], users, ExperimentPlan(None, "none"), {})
    b = planning_block(spec, [_row(-0.05, 0.07, lift=-0.3)], users, ExperimentPlan(None, "none"), {})
    assert a is not None and b is not None and a["arms"] == b["arms"]


def test_only_primary_rows_vs_control():
    spec = parse_spec(SPEC)
    rows = [_row(-0.1, 0.1, metric="cvr"), _row(-0.1, 0.1, baseline="t", arm="c"), _row(None, None)]
    block = planning_block(spec, rows, {"c": 10, "t": 10}, ExperimentPlan(None, "none"), {})
    assert block is not None and [a["arm"] for a in block["arms"]] == ["t"] and block["arms"][0]["power"] is None
    assert planning_block(parse_spec({**SPEC, "mde": None}), rows, {"c": 10, "t": 10},
                          ExperimentPlan(None, "none"), {}) is None
    assert se_from_ci(-1.959963984540054, 1.959963984540054, 0.05) == pytest.approx(1.0)


def test_days_to_go_follow_the_smaller_arm_and_linear_growth():
    spec = parse_spec(SPEC)
    daily = [{"metric": "new_users", "arm": a, "date": f"2026-11-0{d + 1}", "cumulative": k * (d + 1)}
             for a, k in (("c", 100), ("t", 90)) for d in range(4)]
    # 90 unique users a day in the smaller arm; 900 planned: day 10, 4 observed -> 6 to go
    assert days_to_go(spec, daily, 900) == {"t": 6}
    assert days_to_go(spec, daily, 300) == {"t": 0}
    assert days_to_go(spec, daily, None) == {}

"""Rollout plan, planning (power at the MDE), holiday flags, row flags and figures, each on its own."""

from __future__ import annotations

import datetime as dt
import math

import plotly.graph_objects as go
import pytest
from statsmodels.stats.power import NormalIndPower

from reports import figures as F
from reports.build import row_flags, significant
from reports.festivals import flag_days
from reports.i18n import metric_label, tr
from reports.planning import planning_rows, power_at_mde, se_from_ci, users_needed
from reports.rollout import describe, next_steps, rollout_plan


def test_rollout_ramps_coverage_with_new_seed_and_holdout(spec, result):
    plan = rollout_plan(spec, result)
    assert plan is not None and plan.arm == "neural_personalized" and plan.control == "control"
    assert [s.coverage for s in plan.steps] == [0.05, 0.25, 0.50, 1.00]
    assert plan.seed != spec.seed and plan.holdout > 0
    assert all("SRM" in s.watch for s in plan.steps)
    assert all("unfaithful_rate <= 0.02" in s.watch for s in plan.steps)  # text guardrails from the first step
    guard = spec.guardrails[0]
    assert f"{guard.metric} ≥ −{guard.margin:.0%}" in plan.steps[1].watch and spec.primary_metric in plan.steps[2].watch
    text = " ".join(describe(plan, "en"))
    assert "never by changing arm weights" in text and "holdout" in text
    assert "权重" in " ".join(describe(plan, "zh"))


@pytest.mark.parametrize("action", ["keep_running", "stop", "no_decision"])
def test_no_rollout_unless_ship(spec, result, action):
    other = {**result, "decision": {"action": action, "arm": None, "reasons": []}}
    assert rollout_plan(spec, other) is None
    steps = " ".join(next_steps(spec, other, "en"))
    assert steps and ("weight" in steps or "seed" in steps)
    assert next_steps(spec, result, "en") == []  # ship has a rollout plan instead


def test_power_matches_statsmodels_normal_power():
    # relative SE 0.011 at n = 40,000 per arm; MDE 4%: noncentrality mde/se = d·√(n/2)
    se, n, mde = 0.011, 40_000, 0.04
    d = mde / (se * math.sqrt(n / 2))
    ref = NormalIndPower().power(effect_size=d, nobs1=n, alpha=0.05, ratio=1.0, alternative="two-sided")
    assert power_at_mde(se_rel=se, mde=mde, alpha=0.05) == pytest.approx(ref, rel=1e-9)
    need = users_needed(se_rel=se, users_per_arm=n, mde=mde, alpha=0.05, power=0.8)
    ref_n = NormalIndPower().solve_power(effect_size=d, alpha=0.05, power=0.8, ratio=1.0)
    assert need == math.ceil(n * (se * (1.959964 + 0.841621) / mde) ** 2)
    assert need == pytest.approx(ref_n, abs=1)
    # at the needed sample the power is the target
    assert power_at_mde(se_rel=se * math.sqrt(n / need), mde=mde, alpha=0.05) == pytest.approx(0.8, abs=1e-3)


def test_planning_rows_use_the_ci_reached_not_the_observed_effect(spec, result):
    rows = planning_rows(result, metric="ctr", mde=0.04, alpha=0.05, power=0.8)
    assert [r.arm for r in rows] == ["neural_generic", "neural_personalized"]
    ctr = next(m for m in result["metrics"] if m["arm"] == "neural_generic" and m["metric"] == "ctr")
    assert rows[0].se_rel == pytest.approx(se_from_ci(ctr["rel_ci_low"], ctr["rel_ci_high"], 0.05))
    assert rows[0].users_per_arm == min(result["users"]["neural_generic"], result["users"]["control"])
    # same CI width, a different point estimate: same power (observed power would change)
    moved = {**result, "metrics": [{**m, "rel_lift": 0.0} for m in result["metrics"]]}
    assert planning_rows(moved, metric="ctr", mde=0.04, alpha=0.05, power=0.8)[0].power == rows[0].power
    assert rows[0].users_still_needed == max(0, rows[0].users_needed - rows[0].users_per_arm)
    # whichever engine produced them (abkit.stats.power or the fallback), the closed form agrees
    for r in rows:
        assert r.power == pytest.approx(power_at_mde(se_rel=r.se_rel, mde=0.04, alpha=0.05), rel=1e-9)
        assert abs(r.users_needed - users_needed(se_rel=r.se_rel, users_per_arm=r.users_per_arm, mde=0.04,
                                                 alpha=0.05, power=0.8)) <= 1


def test_holidays_and_festivals_flagged():
    days = [dt.date(2026, 6, 18), dt.date(2026, 10, 1), dt.date(2026, 11, 11), dt.date(2026, 11, 12)]
    zh = flag_days(days, "zh")
    assert zh[dt.date(2026, 11, 11)] == "双11" and zh[dt.date(2026, 6, 18)] == "618"
    assert "国庆" in zh[dt.date(2026, 10, 1)] and dt.date(2026, 11, 12) not in zh
    assert "National Day" in flag_days(days, "en")[dt.date(2026, 10, 1)]


def test_row_flags():
    base = {"p_value": 0.0488, "p_value_adjusted": 0.0488, "rel_ci_low": -0.0009, "rel_ci_high": 0.084}
    assert row_flags(base, 0.05) == ["flag_disagree"]
    assert row_flags({**base, "rel_ci_low": 0.001}, 0.05) == []
    assert row_flags({**base, "rel_ci_low": 0.001, "p_value_adjusted": 0.2}, 0.05) == ["flag_multiplicity"]
    assert row_flags({"p_value": None, "rel_ci_low": None, "rel_ci_high": None}, 0.05) == []
    assert significant({"p_value": 0.01, "p_value_adjusted": 0.06}, 0.05) is False  # adjusted p alone decides


def test_labels():
    assert metric_label("ctr", "zh") == "点击率 (ctr)" and metric_label("ctr", "en") == "ctr"
    assert tr("action.ship", "zh") == "上线" and tr("no_such_key") == "no_such_key"


def test_figures_are_plotly_figures_with_the_right_traces(spec, result, history):
    forest = F.forest_plot(result)
    with_ci = [m for m in result["metrics"] if m["rel_ci_low"] is not None]
    assert isinstance(forest, go.Figure) and len(forest.data[0].x) == len(with_ci)
    colors = forest.data[0].marker.color
    assert colors.count(F.SIG_COLOR) == sum(1 for m in with_ci if m["p_value_adjusted"] < 0.05)
    cum = F.cumulative_lift(history, metric="ctr", baseline="control", timezone="Asia/Shanghai")
    lines = [t for t in cum.data if t.mode == "lines+markers"]
    assert {t.name for t in lines} == {"neural_generic", "neural_personalized"} and len(lines[0].x) == len(history)
    assert lines[0].x[0] == dt.datetime(2026, 11, 2, 0, 0)  # 2026-11-01T16:00Z in Beijing time
    daily = F.daily_trends(result["daily"], metric="ctr", timezone="Asia/Shanghai")
    assert len(daily.data) == 3
    assert [a.text for a in daily.layout.annotations] == ["双11"]
    rows = [r for rs in result["breakdowns"].values() for r in rs]
    heat = F.segment_heatmap(rows)
    stars = sum(cell.endswith("★") for row in heat.data[0].text for cell in row)
    assert stars == sum(1 for r in rows if r["p_value_adjusted"] < 0.05) > 0
    assert isinstance(F.text_metrics_figure(result["diversity"]), go.Figure)
    assert len(F.text_feature_figure(result["text_features"]).data) == 3
    assert isinstance(F.srm_figure(result), go.Figure)


def test_text_metric_labels_cover_the_diversity_block():
    from abkit.spec import TEXT_METRICS
    from reports.i18n import text_metric_label

    for key in (*TEXT_METRICS, "subjective_rate", "texts"):
        zh, en = text_metric_label(key, "zh"), text_metric_label(key, "en")
        assert zh != key and en != key and zh != en, key  # a readable, translated name for every metric key
    assert text_metric_label("not_a_metric", "zh") == "not_a_metric"
    assert tr("text_na.no_catalog", "en") != tr("text_na.no_catalog", "zh")

"""Rollout plan, holiday flags, row flags and figures, each on its own (the planning numbers are the
analysis' and are tested in tests/experiments/analysis/test_planning.py)."""

from __future__ import annotations

import datetime as dt

import plotly.graph_objects as go
import pytest

from abkit.result import AnalysisResult, MetricRow
from reports import figures as F
from reports.build import row_flags
from reports.festivals import flag_days
from reports.i18n import metric_label, tr
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
    other = AnalysisResult.from_json({**result.to_json(), "decision": {"action": action, "arm": None, "reasons": []}})
    assert rollout_plan(spec, other) is None
    steps = " ".join(next_steps(spec, other, "en"))
    assert steps and ("weight" in steps or "seed" in steps)
    assert next_steps(spec, result, "en") == []  # ship has a rollout plan instead


def test_holidays_and_festivals_flagged():
    days = [dt.date(2026, 6, 18), dt.date(2026, 10, 1), dt.date(2026, 11, 11), dt.date(2026, 11, 12)]
    zh = flag_days(days, "zh")
    assert zh[dt.date(2026, 11, 11)] == "双11" and zh[dt.date(2026, 6, 18)] == "618"
    assert "国庆" in zh[dt.date(2026, 10, 1)] and dt.date(2026, 11, 12) not in zh
    assert "National Day" in flag_days(days, "en")[dt.date(2026, 10, 1)]


def test_row_flags_read_the_analysis_calls():
    base = MetricRow(p_value=0.0488, p_value_adjusted=0.0488, rel_ci_low=-0.0009, rel_ci_high=0.084,
                     significant=True, ci_disagrees=True)
    assert row_flags(base, 0.05) == ["flag_disagree"]
    assert row_flags(MetricRow(**{**base.to_json(), "ci_disagrees": False}), 0.05) == []
    lost = MetricRow(p_value=0.0488, p_value_adjusted=0.2, significant=False, ci_disagrees=False)
    assert row_flags(lost, 0.05) == ["flag_multiplicity"]
    assert row_flags(MetricRow(), 0.05) == []


def test_labels():
    assert metric_label("ctr", "zh") == "点击率 (ctr)" and metric_label("ctr", "en") == "ctr"
    assert tr("action.ship", "zh") == "上线" and tr("no_such_key") == "no_such_key"


def test_figures_are_plotly_figures_with_the_right_traces(spec, result, history):
    forest = F.forest_plot(result)
    with_ci = [m for m in result.metrics if m.rel_ci_low is not None]
    assert isinstance(forest, go.Figure) and sum(len(t.x) for t in forest.data) == len(with_ci)
    by_color = {t.marker.color: len(t.x) for t in forest.data}
    assert by_color[F.SIG_COLOR] == sum(1 for m in with_ci if m.significant) > 0
    for t in forest.data:  # one colour per trace: plotly.js draws an array-coloured error bar black
        assert isinstance(t.marker.color, str) and t.error_x.color == t.marker.color
    assert list(forest.layout.yaxis.categoryarray) == [  # rows keep the analysis order
        f"{F.metric_label(m.metric, 'zh')} · {F.esc(m.arm)} vs {F.esc(m.baseline)}" for m in with_ci]
    cum = F.cumulative_lift(history, metric="ctr", baseline="control", timezone="Asia/Shanghai")
    lines = [t for t in cum.data if t.mode == "lines+markers"]
    assert {t.name for t in lines} == {"neural_generic", "neural_personalized"} and len(lines[0].x) == len(history)
    assert lines[0].x[0] == dt.datetime(2026, 11, 2, 0, 0)  # 2026-11-01T16:00Z in Beijing time
    daily = F.daily_trends(result.daily, metric="ctr", timezone="Asia/Shanghai")
    assert len(daily.data) == 3
    assert [a.text for a in daily.layout.annotations] == ["双11"]
    rows = [r for rs in result.breakdowns.values() for r in rs]
    heat = F.segment_heatmap(rows)
    stars = sum(cell.endswith("★") for row in heat.data[0].text for cell in row)
    assert stars == sum(1 for r in rows if r.significant) > 0
    assert isinstance(F.text_metrics_figure(result.diversity), go.Figure)
    assert len(F.text_feature_figure(result.text_features).data) == 3
    srm = F.srm_figure(result.users, dict(zip(result.users, result.srm.expected, strict=True)))
    assert list(srm.data[1].y) == list(result.srm.expected)
    assert result.planning is not None
    plan = result.planning.arms[0]
    power = F.power_curve(plan, mde=0.02, alpha=0.05, target_power=0.8)
    marker = power.data[1]
    assert list(marker.x) == [plan.users_per_arm] and marker.y[0] == pytest.approx(plan.power, rel=1e-9)


def test_text_metric_labels_cover_the_diversity_block():
    from abkit.spec import TEXT_METRICS
    from reports.i18n import text_metric_label

    for key in (*TEXT_METRICS, "subjective_rate", "texts"):
        zh, en = text_metric_label(key, "zh"), text_metric_label(key, "en")
        assert zh != key and en != key and zh != en, key  # a readable, translated name for every metric key
    assert text_metric_label("not_a_metric", "zh") == "not_a_metric"


def test_text_table_uses_readable_names_and_says_why_a_value_is_missing():
    """The Chinese report shows translated metric names (no raw `distinct_1` / `self_bleu` headers)
    and "—" with its reason where a value does not apply, never 0.000."""
    from abkit.result import AnalysisResult
    from abkit.spec import parse_spec
    from reports.build import build_report

    spec = parse_spec({"key": "t", "arms": [{"name": "control", "weight": 1}, {"name": "b", "weight": 1}],
                       "start": "2026-11-01", "end": "2026-11-03", "primary_metric": "ctr"})
    base = {"texts": 40, "pairs": 40, "items_missing": 40, "distinct_1": 0.2, "distinct_2": 0.4,
            "self_bleu": 0.5, "personalization": None, "unfaithful_rate": None, "ad_law_violation_rate": 0.0}
    result = AnalysisResult.from_json({
        "experiment": "t", "control": "control", "window_utc": ["2026-11-01T00:00:00Z", "2026-11-03T00:00:00Z"],
        "users": {"control": 10, "b": 10}, "excluded_multi_arm_users": 0, "srm": {"p_value": 1.0, "ok": True},
        "metrics": [], "diversity": {"control": base, "b": {**base, "self_bleu": None}},
        "decision": {"action": "no_decision", "arm": None, "reasons": []}})
    html = build_report(spec, result, lang="zh")
    section = html[html.index('id="text"'):]
    table = section[:section.index("</table>")]
    for raw in ("distinct_1", "self_bleu", "unfaithful_rate", "personalization"):
        assert f"<th>{raw}</th>" not in table
    assert "无商品目录，未做属性核对" in table  # unfaithful_rate: the catalog was missing
    assert "无人群字段，无法计算个性化" in table  # personalization: no segments
    assert "未计算 Self-BLEU" in table  # arm b only
    assert "0.000" not in table

"""How `analyze` wires the stats into the decision, on small seeded worlds with known effects.

Each test asserts the decision and the numbers behind it against the stats functions fed with
sufficient statistics summed here with numpy from the per-user table (so the SQL is not what is
tested; docs/interface.md, Analysis JSON). Each would catch a plausible wiring bug, named in its
docstring.
"""

from __future__ import annotations

import pandas as pd
import pytest

from abkit.metrics import METRICS
from abkit.spec import Spec, parse_spec
from abkit.stats.compare import compare
from abkit.stats.noninferiority import noninferiority, shown_worse
from abkit.stats.sequential import SequentialDesign, sequential
from abkit.stats.types import SufficientStats
from abkit.warehouse import connect
from experiments.analysis.analyze import analyze
from experiments.analysis.guardrails import text_guardrail_checks
from experiments.analysis.stages import per_user_frame


def spec(arms: list[str], **kw: object) -> Spec:
    base = {"key": "w", "arms": [{"name": a, "weight": 1} for a in arms], "start": "2026-11-01",
            "end": "2026-11-05", "primary_metric": "ctr", "cuped": False, "planned_users_per_arm": 100}
    return parse_spec({**base, **kw})


@pytest.fixture
def run(tmp_path, log_writer):
    """run(spec, exposures, events) -> (result, per-user frame)."""
    def go(s: Spec, exposures: pd.DataFrame, events: pd.DataFrame, name: str = "w"):
        db = tmp_path / f"{name}.duckdb"
        if not db.exists():
            log_writer(db, exposures=exposures, events=events)
        con = connect(db)
        try:
            return analyze(s, con, text_metrics=False), per_user_frame(s, con)
        finally:
            con.close()
    return go


def sums(frame: pd.DataFrame, metric: str, arm: str) -> SufficientStats:
    """The metric's sufficient statistics of one arm, summed with numpy (no covariate: cuped off)."""
    m = METRICS[metric]
    f = frame[frame["arm"] == arm]
    y = f[m.numerator].astype(float).to_numpy()
    out = {"n": len(f), "sum_y": y.sum(), "sum_y2": (y * y).sum()}
    if m.denominator:
        d = f[m.denominator].astype(float).to_numpy()
        out.update(sum_d=d.sum(), sum_d2=(d * d).sum(), sum_yd=(y * d).sum())
    return SufficientStats(**out)


def reference(frame: pd.DataFrame, metric: str, arm: str, s: Spec, control: str = "control"):
    return compare(sums(frame, metric, control), sums(frame, metric, arm), alpha=s.alpha, cuped=False,
                   kind=METRICS[metric].kind)


def guardrail(result, metric: str, arm: str):
    (g,) = [g for g in result.guardrails if g.metric == metric and g.arm == arm]
    return g


def row(result, metric: str, arm: str, baseline: str = "control"):
    (r,) = [r for r in result.metrics if (r.metric, r.arm, r.baseline) == (metric, arm, baseline)]
    return r


CLICK = {"control": 0.3, "treat": 0.3}


def test_a_revenue_drop_stops_with_the_bound_of_the_stats_functions(run, world_logs):
    """Catches: a guardrail that always passes; `shown_worse` not wired into the decision."""
    x, e = world_logs(2500, 1, click=CLICK, revenue={"treat": 0.6})
    s = spec(["control", "treat"], guardrails=[{"metric": "revenue_per_user", "margin": 0.05}])
    res, pu = run(s, x, e)
    g = guardrail(res, "revenue_per_user", "treat")
    ref = reference(pu, "revenue_per_user", "treat", s)
    ni = noninferiority(ref, 0.05, alpha=s.alpha, higher_is_better=True)
    assert g.bound == pytest.approx(ni.bound, rel=1e-9) and g.non_inferior is False
    assert g.shown_worse is True is shown_worse(ref, 0.05, s.alpha, True)
    assert res.decision.action == "stop" and res.decision.arm == "treat"
    assert [v.verdict for v in res.decision.arms] == ["harmful"]


def test_a_refund_rate_rise_stops_lower_is_better(run, world_logs):
    """Catches: a guardrail's higher_is_better flipped (refund_rate is lower-is-better: a rise is harm)."""
    x, e = world_logs(2500, 2, click=CLICK, order=0.5, refund={"control": 0.05, "treat": 0.20})
    s = spec(["control", "treat"], guardrails=[{"metric": "refund_rate", "margin": 0.10}])
    res, pu = run(s, x, e)
    g = guardrail(res, "refund_rate", "treat")
    ref = reference(pu, "refund_rate", "treat", s)
    assert ref.rel_lift > 1  # refunds tripled
    ni = noninferiority(ref, 0.10, alpha=s.alpha, higher_is_better=False)
    assert g.higher_is_better is False and g.bound == pytest.approx(ni.bound, rel=1e-9)
    assert g.bound > 0.10 and g.non_inferior is False and g.shown_worse is True
    assert res.decision.action == "stop" and res.decision.arm == "treat"


def test_a_small_effect_leaves_the_guardrail_non_inferior(run, world_logs):
    """Catches: a flipped direction or margin sign that fails a harmless arm."""
    x, e = world_logs(3000, 3, click=CLICK, order=0.5, revenue={"treat": 1.01},
                      refund={"control": 0.2, "treat": 0.2})
    s = spec(["control", "treat"], guardrails=[{"metric": "revenue_per_user", "margin": 0.25},
                                               {"metric": "refund_rate", "margin": 0.4}])
    res, pu = run(s, x, e)
    for metric, hib in (("revenue_per_user", True), ("refund_rate", False)):
        g = guardrail(res, metric, "treat")
        ni = noninferiority(reference(pu, metric, "treat", s), g.margin, alpha=s.alpha, higher_is_better=hib)
        assert g.non_inferior is True and g.shown_worse is False and g.bound == pytest.approx(ni.bound, rel=1e-9)
    assert res.decision.action != "stop"


def test_sequential_never_ships_on_the_fixed_horizon_p(run, world_logs):
    """Catches: sequential mode deciding, or ticking `significant`, on the fixed-horizon p."""
    x, e = world_logs(2000, 4, click={"control": 0.30, "treat": 0.33})
    s = spec(["control", "treat"], sequential={"enabled": True}, planned_users_per_arm=2000)
    res, _ = run(s, x, e)
    r = row(res, "ctr", "treat")
    assert r.p_value_adjusted < s.alpha < r.seq_p_value_adjusted  # the case this test is about
    assert r.significant is False and r.significance is None
    assert res.decision.action != "ship"
    assert [v.verdict for v in res.decision.arms] != ["ship_candidate"]


def test_sequential_uses_n_star_from_the_plan_for_rows_and_guardrails(run, world_logs):
    """Catches: tuning_n ignored (GrowthBook's 5,000 default instead of the planned 2 × per arm)."""
    x, e = world_logs(1500, 5, click={"control": 0.30, "treat": 0.31})
    s = spec(["control", "treat"], sequential={"enabled": True}, planned_users_per_arm=20_000,
             guardrails=[{"metric": "revenue_per_user", "margin": 0.1}])
    res, pu = run(s, x, e)
    assert res.tuning_n == 40_000
    ref = reference(pu, "ctr", "treat", s)
    n = res.users["control"] + res.users["treat"]
    seq = sequential(ref, n, tuning_n=40_000, alpha=s.alpha)
    r = row(res, "ctr", "treat")
    assert r.seq_rel_ci_low == pytest.approx(seq.seq_rel_ci_low, rel=1e-9)
    assert r.seq_p_value == pytest.approx(seq.seq_p_value, rel=1e-9)
    assert sequential(ref, n, tuning_n=None, alpha=s.alpha).seq_rel_ci_low != pytest.approx(r.seq_rel_ci_low)
    g = guardrail(res, "revenue_per_user", "treat")
    ni = noninferiority(reference(pu, "revenue_per_user", "treat", s), 0.1, alpha=s.alpha,
                        sequential=SequentialDesign(n, 40_000))
    assert g.sequential is True and g.bound == pytest.approx(ni.bound, rel=1e-9)


def test_p_equal_to_alpha_is_not_significant(run, world_logs):
    """Catches: `p < alpha` turned into `p <= alpha`."""
    x, e = world_logs(2000, 6, click={"control": 0.30, "treat": 0.33})
    first, _ = run(spec(["control", "treat"]), x, e)
    p = row(first, "ctr", "treat").p_value_adjusted
    assert p < 0.05 and first.decision.action == "ship"
    res, _ = run(spec(["control", "treat"], alpha=p), x, e)
    assert row(res, "ctr", "treat").p_value_adjusted == p
    assert row(res, "ctr", "treat").significant is False and res.decision.action == "no_decision"


def test_the_smallest_arm_at_the_planned_sample_is_read(run, world_logs):
    """Catches: `<` turned into `<=` in the planned-sample check, or the wrong arm's size used."""
    x, e = world_logs(2000, 6, click={"control": 0.30, "treat": 0.33})
    first, _ = run(spec(["control", "treat"]), x, e)
    smallest = min(first.users.values())
    at, _ = run(spec(["control", "treat"], planned_users_per_arm=smallest), x, e)
    above, _ = run(spec(["control", "treat"], planned_users_per_arm=smallest + 1), x, e)
    assert at.sample_reached is True and at.decision.action == "ship"
    assert above.sample_reached is False and above.decision.action == "keep_running"
    assert above.decision.arms[0].verdict == "keep_running" and above.decision.arms[0].users_to_go == 1


def test_several_lower_is_better_winners_ship_the_most_negative_upper_bound(run, world_logs):
    """Catches: the sign of the lower-is-better winner score (the best is the most negative upper bound)."""
    x, e = world_logs(2500, 7, click={"control": 0.4, "a": 0.4, "b": 0.4}, order=0.6,
                      refund={"control": 0.25, "a": 0.15, "b": 0.08})
    s = spec(["control", "a", "b"], primary_metric="refund_rate")
    res, _ = run(s, x, e)
    ra, rb = row(res, "refund_rate", "a"), row(res, "refund_rate", "b")
    assert ra.significance == rb.significance == "better"
    assert rb.rel_ci_high < ra.rel_ci_high < 0
    assert res.decision.action == "ship" and res.decision.arm == "b"
    assert {v.arm: v.verdict for v in res.decision.arms} == {"a": "ship_candidate", "b": "ship_candidate"}


def test_a_significantly_worse_arm_is_harmful_and_the_other_ships(run, world_logs):
    """Catches: significance without direction (a significant drop ticked as a success)."""
    x, e = world_logs(2500, 8, click={"control": 0.30, "bad": 0.26, "good": 0.34})
    s = spec(["control", "bad", "good"], comparisons=[["good", "bad"]])
    res, _ = run(s, x, e)
    assert row(res, "ctr", "bad").significance == "worse" and row(res, "ctr", "bad").significant is True
    assert row(res, "ctr", "good").significance == "better"
    assert {v.arm: v.verdict for v in res.decision.arms} == {"bad": "harmful", "good": "ship_candidate"}
    assert res.decision.action == "ship" and res.decision.arm == "good"
    codes = [m["code"] for m in res.decision.next_step]
    assert codes[0] == "next_stop_arms" and "next_ship_ramp" in codes


@pytest.mark.parametrize(("treated", "tolerance", "passes"), [(0.47, 0.05, True), (0.47, 0.02, False),
                                                                (0.52, 0.0, True)])
def test_text_guardrail_at_least_control_allows_the_tolerance_below_it(treated, tolerance, passes):
    """Catches: the tolerance's sign for a `>= control` text guardrail (slack must lower the bar)."""
    s = spec(["control", "treat"], text_guardrails=[{"metric": "distinct_2_at_n", "op": ">=", "value": "control",
                                                      "tolerance": tolerance}])
    (c,) = text_guardrail_checks(s, {"control": {"distinct_2_at_n": 0.50}, "treat": {"distinct_2_at_n": treated}})
    assert c.passed is passes


@pytest.mark.parametrize(("n", "orders_control", "metric", "margin"), [
    (150, 1, "conversion_rate", 0.05), (100, 2, "conversion_rate", 0.05), (150, 1, "orders_per_user", 0.05)])
def test_an_arm_with_no_events_neither_stops_nor_passes(run, n, orders_control, metric, margin):
    """Catches: analyze not passing the metric's kind (or dropping `small_sample`), so a zero-event arm
    'shows' a −100% lift with certainty and stops the experiment (issue 12, finding 1)."""
    users = [f"{a}{i}" for a in ("c", "t") for i in range(n)]
    x = pd.DataFrame({"event_id": [f"x{u}" for u in users], "ts": pd.Timestamp("2026-11-01 10:00"),
                      "experiment": "w", "user_id": users, "item_id": "i1",
                      "arm": ["control" if u[0] == "c" else "treat" for u in users]})
    buyers = users[:orders_control]
    e = pd.DataFrame({"event_id": [f"o{u}" for u in buyers], "ts": pd.Timestamp("2026-11-01 10:30"),
                      "user_id": buyers, "item_id": "i1", "type": "order", "revenue": 10.0,
                      "order_id": [f"O{u}" for u in buyers]})
    s = spec(["control", "treat"], guardrails=[{"metric": metric, "margin": margin}])
    res, _ = run(s, x, e, name=f"zero_{n}_{orders_control}_{metric}")
    g = guardrail(res, metric, "treat")
    assert g.small_sample is True and g.non_inferior is False and g.shown_worse is False
    assert res.decision.action != "stop"
    assert row(res, metric, "treat").significant is False

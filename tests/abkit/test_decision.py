"""The docs/interface.md, Analysis JSON decision policy: each rule in its order, each reason one sentence."""

from __future__ import annotations

import pytest

from abkit.decision import (
    GuardrailCheck,
    PairEvidence,
    PrimaryEvidence,
    TextGuardrailCheck,
    check_guardrail,
    decide,
)
from abkit.stats import SequentialDesign, SufficientStats, compare

WIN = PrimaryEvidence("neural", 0.001, 0.06, 0.02, 0.10, abs_lift=0.003)
WIN2 = PrimaryEvidence("other", 0.002, 0.09, 0.01, 0.17, abs_lift=0.004)
FLAT = PrimaryEvidence("neural", 0.40, 0.01, -0.02, 0.04, abs_lift=0.0005)
LOSE = PrimaryEvidence("neural", 0.001, -0.05, -0.08, -0.02, abs_lift=-0.002)
OK_GUARD = GuardrailCheck("conversion_rate", "neural", 0.05, non_inferior=True, shown_worse=False, bound=-0.01)
UNSURE_GUARD = GuardrailCheck("conversion_rate", "neural", 0.05, non_inferior=False, shown_worse=False, bound=-0.08)
BAD_GUARD = GuardrailCheck("conversion_rate", "neural", 0.05, non_inferior=False, shown_worse=True, bound=-0.2,
                           rel_lift=-0.12)
USERS = {"control": 10_000, "neural": 10_050}


def run(**kw):
    args = dict(primary_metric="ctr", primary=[WIN], alpha=0.05, srm_ok=True, srm_p_value=0.5, users=USERS,
                planned_users_per_arm=5_000)
    args.update(kw)
    d = decide(**args)
    assert d.reasons and all(r.endswith(".") and r.count(". ") == 0 for r in d.reasons)  # one sentence each
    return d


def test_ship_when_significant_better_and_guardrails_non_inferior():
    d = run(guardrails=[OK_GUARD])
    assert (d.action, d.arm) == ("ship", "neural")
    assert "significantly better" in d.reasons[0] and "non-inferior" in d.reasons[1]


@pytest.mark.parametrize("blocker, action", [
    (dict(srm_ok=False, srm_p_value=1e-6), "stop"),
    (dict(text_checks=[TextGuardrailCheck("neural", "unfaithful_rate <= 0.01", 0.03, False)]), "stop"),
    (dict(guardrails=[BAD_GUARD]), "stop"),
    (dict(planned_users_per_arm=50_000), "keep_running"),
    (dict(guardrails=[UNSURE_GUARD]), "no_decision"),
    (dict(primary=[FLAT]), "no_decision"),
    (dict(primary=[LOSE]), "no_decision"),
])
def test_each_rule_blocks_ship(blocker, action):
    assert run(**blocker).action == action


def test_order_srm_before_text_before_guardrail_before_sample():
    text = [TextGuardrailCheck("neural", "ad_law_violation_rate == 0", 0.01, False)]
    d = run(srm_ok=False, srm_p_value=1e-9, text_checks=text, guardrails=[BAD_GUARD], planned_users_per_arm=10**9)
    assert d.action == "stop" and "Sample ratio mismatch" in d.reasons[0]
    d = run(text_checks=text, guardrails=[BAD_GUARD], planned_users_per_arm=10**9)
    assert d.action == "stop" and "Text guardrail" in d.reasons[0] and d.arm == "neural"
    d = run(guardrails=[BAD_GUARD], planned_users_per_arm=10**9)
    assert d.action == "stop" and "shown worse" in d.reasons[0]
    d = run(guardrails=[UNSURE_GUARD], planned_users_per_arm=10**9)
    assert d.action == "keep_running"


def test_unevaluated_text_guardrail_does_not_stop():
    d = run(text_checks=[TextGuardrailCheck("neural", "unfaithful_rate <= 0.01", None, None)])
    assert d.action == "ship"


def test_best_lower_bound_among_several_winners():
    # WIN2 has the larger lift but WIN the better lower bound (0.02 > 0.01)
    d = run(primary=[WIN, WIN2])
    assert (d.action, d.arm) == ("ship", "neural")
    assert any("Among 2 winning arms" in r for r in d.reasons)


def test_guardrail_only_blocks_its_own_arm():
    d = run(primary=[WIN, WIN2], guardrails=[UNSURE_GUARD])
    assert (d.action, d.arm) == ("ship", "other")


def test_significance_uses_the_adjusted_p_alone():
    borderline = PrimaryEvidence("neural", 0.051, 0.06, 0.001, 0.12, abs_lift=0.003)  # CI excludes 0, p_adj does not
    assert run(primary=[borderline]).action == "no_decision"


def test_sequential_skips_sample_check_and_lower_is_better():
    assert run(sequential=True, planned_users_per_arm=10**9).action == "ship"
    assert run(primary=[LOSE], higher_is_better=False).action == "ship"
    assert run(primary=[WIN], higher_is_better=False).action == "no_decision"


def test_no_plan_is_noted():
    d = run(planned_users_per_arm=None)
    assert d.action == "ship" and any("No planned sample size" in r for r in d.reasons)


# --- boundaries and directions (the survivors of the hand-made bugs) ---------------------------

def test_p_equal_to_alpha_is_not_significant():
    at_alpha = PrimaryEvidence("neural", 0.05, 0.06, 0.001, 0.12, abs_lift=0.003)
    d = run(primary=[at_alpha])
    assert d.action == "no_decision" and d.verdict("neural").verdict == "inconclusive"
    just_below = PrimaryEvidence("neural", 0.05 - 1e-12, 0.06, 0.001, 0.12, abs_lift=0.003)
    assert run(primary=[just_below]).action == "ship"


def test_several_lower_is_better_winners_pick_the_most_negative_upper_bound():
    a = PrimaryEvidence("a", 0.001, -0.08, -0.15, -0.01, abs_lift=-0.008)  # bigger drop, upper -1%
    b = PrimaryEvidence("b", 0.001, -0.05, -0.07, -0.03, abs_lift=-0.005)  # surer drop, upper -3%
    users = {"control": 10_000, "a": 10_000, "b": 10_000}
    d = run(primary=[a, b], higher_is_better=False, users=users, control="control")
    assert (d.action, d.arm) == ("ship", "b")
    assert {v.arm: v.verdict for v in d.arms} == {"a": "ship_candidate", "b": "ship_candidate"}
    assert d.next_step[-1].code == "next_ship_ramp" and d.next_step[-1].params["arm"] == "b"


def _stats(n, mean, sd):
    return SufficientStats(n, mean * n, (sd * sd * (n - 1) + n * mean * mean))


def test_check_guardrail_uses_the_metrics_own_direction():
    """A refund_rate rise and a revenue drop must stop; the same rise on a higher-is-better
    metric is non-inferior (a flipped higher_is_better would swap these)."""
    # ratio stats: refunded orders / orders, 4,000 users with 1 order each, refund 5% -> 8%
    def refunds(n, k):
        return SufficientStats(n, k, k, n, n, k)

    rise = compare(refunds(4000, 200), refunds(4000, 320))
    refund = check_guardrail("refund_rate", "neural", rise, 0.05, alpha=0.05)
    assert refund.shown_worse and not refund.non_inferior and refund.higher_is_better is False
    assert refund.bound > 0.05 - 1e-9 and refund.limit == 0.05
    assert run(guardrails=[refund]).action == "stop"
    ctr_like = check_guardrail("add_to_cart_rate", "neural", rise, 0.05, alpha=0.05)
    assert ctr_like.non_inferior and not ctr_like.shown_worse
    drop = compare(_stats(20_000, 10.0, 8.0), _stats(20_000, 9.0, 8.0))
    revenue = check_guardrail("revenue_per_user", "neural", drop, 0.02, alpha=0.05)
    assert revenue.shown_worse and run(guardrails=[revenue]).action == "stop"
    small = compare(_stats(20_000, 10.0, 8.0), _stats(20_000, 9.97, 8.0))  # -0.3% with a 5% margin
    ok = check_guardrail("revenue_per_user", "neural", small, 0.05, alpha=0.05)
    assert ok.non_inferior and not ok.shown_worse and run(guardrails=[ok]).action == "ship"


@pytest.mark.parametrize("control, treatment, metric", [
    (SufficientStats(150, 1, 1), SufficientStats(150, 0, 0), "conversion_rate"),  # 1 vs 0 orders
    (SufficientStats(100, 2, 2), SufficientStats(100, 0, 0), "conversion_rate"),  # 2/100 vs 0/100
    (SufficientStats(20, 1, 1, 20, 20, 1), SufficientStats(20, 0, 0, 20, 20, 0), "refund_rate"),
    (SufficientStats(20, 0, 0, 20, 20, 0), SufficientStats(20, 1, 1, 20, 20, 1), "refund_rate"),
])
def test_small_samples_never_stop_ship_or_pass(control, treatment, metric):
    r = compare(control, treatment)
    for seq in (None, SequentialDesign(control.n + treatment.n, 1000)):
        g = check_guardrail(metric, "neural", r, 0.02, alpha=0.05, sequential=seq)
        assert not g.shown_worse and not g.non_inferior and g.small_sample
        d = run(guardrails=[g])
        assert d.action == "no_decision" and d.verdict("neural").verdict == "inconclusive"
    row = {"arm": "neural", "p_value_adjusted": r.p_value, "rel_lift": r.rel_lift, "rel_ci_low": r.rel_ci_low,
           "rel_ci_high": r.rel_ci_high, "abs_lift": r.abs_lift, "small_sample": r.small_sample}
    d = run(primary=[PrimaryEvidence.from_row({**row, "p_value_adjusted": 1e-9}, sequential=False)])
    assert d.action == "no_decision" and d.verdict("neural").verdict == "inconclusive"
    assert d.messages[0].code == "primary_small_sample"


def test_sequential_mode_decides_on_the_always_valid_fields():
    row = {"arm": "neural", "p_value_adjusted": 0.01, "seq_p_value_adjusted": 0.2, "rel_lift": 0.05,
           "rel_ci_low": 0.01, "rel_ci_high": 0.09, "seq_rel_ci_low": -0.02, "seq_rel_ci_high": 0.12,
           "abs_lift": 0.002}
    seq = run(primary=[PrimaryEvidence.from_row(row, sequential=True)], sequential=True,
              p_label="sequential adjusted p")
    assert seq.action == "no_decision" and "sequential adjusted p = 0.2" in seq.reasons[0]
    assert run(primary=[PrimaryEvidence.from_row(row, sequential=False)]).action == "ship"
    # a guardrail whose fixed bound passes but whose always-valid bound does not blocks ship
    r = compare(_stats(5_000, 10.0, 8.0), _stats(5_000, 10.0, 8.0))
    fixed = check_guardrail("revenue_per_user", "neural", r, 0.035, alpha=0.05)
    always = check_guardrail("revenue_per_user", "neural", r, 0.035, alpha=0.05,
                             sequential=SequentialDesign(10_000, 10_000))
    assert fixed.non_inferior and not always.non_inferior and always.bound < fixed.bound
    win = PrimaryEvidence("neural", 0.001, 0.06, 0.02, 0.10, abs_lift=0.003)
    assert run(primary=[win], guardrails=[always], sequential=True).action == "no_decision"


# --- per-arm verdicts and the next step ---------------------------------------------------------

THREE = {"control": 50_000, "generic": 50_100, "personal": 49_900}


def test_harmful_arm_stopped_and_the_other_keeps_running_with_days():
    generic = PrimaryEvidence("generic", 0.001, -0.0204, -0.03, -0.01, abs_lift=-0.001)
    personal = PrimaryEvidence("personal", 0.20, 0.01, -0.005, 0.025, abs_lift=0.0005)
    pair = PairEvidence("personal", "generic", 0.004, 0.0271, abs_lift=0.0014)
    d = run(primary=[generic, personal], users=THREE, control="control", planned_users_per_arm=80_000,
            sequential=True, comparisons=[pair], days_to_go={"personal": 6})
    verdicts = {v.arm: v.verdict for v in d.arms}
    assert verdicts == {"generic": "harmful", "personal": "keep_running"}
    assert d.verdict("generic").reasons[0].code == "arm_harmful_primary"
    codes = [m.code for m in d.verdict("personal").reasons]
    assert codes[0] == "arm_keep_running" and "arm_vs_arm" in codes  # beats generic: informs only
    assert d.verdict("personal").users_to_go == 80_000 - 49_900
    assert [m.code for m in d.next_step] == ["next_stop_arms", "next_keep_running_days"]
    en = " ".join(m.text for m in d.next_step)
    assert en == ("Stop 'generic' now. Keep 'personal' running about 6 more days to reach its planned "
                  "80,000 users (30,100 to go).")
    zh = "".join(m.render("zh") for m in d.next_step)
    assert zh == "立即停止实验组「generic」。让「personal」继续运行约 6 天，达到计划的 80,000 名用户（还差 30,100 名）。"


def test_beating_another_arm_is_not_a_ship_candidate_and_worse_primary_waits_for_the_plan():
    flat = PrimaryEvidence("personal", 0.30, 0.01, -0.01, 0.03, abs_lift=0.0005)
    worse = PrimaryEvidence("generic", 0.01, -0.02, -0.035, -0.005, abs_lift=-0.001)
    pair = PairEvidence("personal", "generic", 0.001, 0.03, abs_lift=0.0015)
    d = run(primary=[worse, flat], users=THREE, control="control", planned_users_per_arm=40_000,
            comparisons=[pair])
    assert {v.arm: v.verdict for v in d.arms} == {"generic": "harmful", "personal": "inconclusive"}
    assert [m.code for m in d.next_step] == ["next_stop_arms", "next_no_winner"]
    # fixed horizon before the plan: a significantly worse primary is not yet a verdict (peeking)
    early = run(primary=[worse, flat], users=THREE, control="control", planned_users_per_arm=60_000)
    assert early.action == "keep_running" and {v.verdict for v in early.arms} == {"keep_running"}


def test_stop_one_arm_ship_another():
    bad_guard = GuardrailCheck("conversion_rate", "generic", 0.02, non_inferior=False, shown_worse=True,
                               bound=-0.05, rel_lift=-0.08)
    good_guard = GuardrailCheck("conversion_rate", "personal", 0.02, non_inferior=True, shown_worse=False, bound=0.0)
    win = PrimaryEvidence("personal", 0.001, 0.05, 0.02, 0.08, abs_lift=0.002)
    flat = PrimaryEvidence("generic", 0.5, 0.0, -0.02, 0.02, abs_lift=0.0)
    d = run(primary=[flat, win], users=THREE, control="control", guardrails=[bad_guard, good_guard],
            planned_users_per_arm=40_000)
    assert d.action == "stop" and d.arm == "generic"  # the documented order is kept
    assert {v.arm: v.verdict for v in d.arms} == {"generic": "harmful", "personal": "ship_candidate"}
    assert [(m.code, m.params.get("arms") or m.params.get("arm")) for m in d.next_step] == [
        ("next_stop_arms", ["generic"]), ("next_ship_ramp", "personal")]
    assert "10%" in d.next_step[1].text and "50%" in d.next_step[1].text


def test_srm_makes_every_arm_inconclusive():
    d = run(srm_ok=False, srm_p_value=1e-8)
    assert [v.verdict for v in d.arms] == ["inconclusive"] and [m.code for m in d.next_step] == ["next_fix_srm"]


def test_decision_serializes_with_codes_params_and_text():
    import json

    d = run(guardrails=[OK_GUARD]).to_dict()
    json.dumps(d, allow_nan=False)
    assert d["reasons"] == [m["text"] for m in d["messages"]]
    assert d["arms"][0]["reasons"][0]["code"] == "arm_ship_candidate"
    assert set(d["next_step"][0]) == {"code", "params", "text"}

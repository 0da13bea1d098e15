"""The docs/interface.md, Analysis JSON decision policy: each rule in its order, each reason one sentence."""

from __future__ import annotations

import pytest

from abkit.decision import GuardrailCheck, PrimaryEvidence, TextGuardrailCheck, decide

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

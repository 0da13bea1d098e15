"""Small and degenerate samples: the normal-approximation rule, exact/score methods below it (against
scipy 1.17 and statsmodels 0.15, exact enumeration), and no round-off standard error read as certainty."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from abkit.stats import SequentialDesign, SufficientStats, compare, noninferiority, sequential, shown_worse
from abkit.stats.smallsample import fisher_exact_p, mover_ratio, newcombe_difference, wilson

S = SufficientStats


def _cannot_decide(r, margin=0.02, higher_is_better=True):
    """The row is flagged and can neither show a guardrail worse nor pass it, fixed or sequential."""
    assert r.small_sample and not r.estimable and r.warning and "Too few events" in r.warning
    for seq in (None, SequentialDesign(1000, 1000)):
        assert shown_worse(r, margin, 0.05, higher_is_better, sequential=seq) is False
        ni = noninferiority(r, margin, higher_is_better=higher_is_better, sequential=seq)
        assert ni.passed is False and ni.inconclusive_reason
    assert sequential(r, 300).seq_p_value is None


def test_one_order_vs_none_in_150_users_each():
    """1 vs 0 orders: conversion (0/1), orders per user and revenue per user: never worse, never non-inferior."""
    conv = compare(S(150, 1, 1), S(150, 0, 0))
    _cannot_decide(conv)
    # Fisher exact, by enumeration: the single event falls in either arm with probability 1/2
    assert conv.p_value == pytest.approx(1.0)
    assert conv.rel_ci_low == pytest.approx(-1.0) and conv.rel_ci_high > 1  # not [-100%, -100%]
    orders = compare(S(150, 1, 1), S(150, 0, 0), kind="mean")
    _cannot_decide(orders)
    assert orders.p_value is None and orders.rel_ci_low is None and orders.rel_lift == -1.0
    revenue = compare(S(150, 35.0, 35.0**2), S(150, 0.0, 0.0))
    _cannot_decide(revenue)


def test_two_of_100_vs_none():
    r = compare(S(100, 2, 2), S(100, 0, 0))
    _cannot_decide(r)
    table = [[0, 100], [2, 98]]
    assert r.p_value == pytest.approx(stats.fisher_exact(table).pvalue, rel=1e-9)
    assert r.p_value == pytest.approx(0.4975, abs=1e-4)  # Welch on the same data says 0.16
    from statsmodels.stats.proportion import confint_proportions_2indep

    lo, hi = confint_proportions_2indep(0, 100, 2, 100, method="newcomb", compare="diff")
    assert (r.abs_ci_low, r.abs_ci_high) == pytest.approx((lo, hi), abs=1e-9)


def test_refund_one_of_20_vs_none_never_passes_a_lower_is_better_guardrail():
    # refund_rate = Σ refunded orders / Σ orders; each user 1 order, control has one refund
    control, treatment = S(20, 1.0, 1.0, 20.0, 20.0, 1.0), S(20, 0.0, 0.0, 20.0, 20.0, 0.0)
    r = compare(control, treatment)
    assert r.p_value is None and r.rel_ci_low is None and r.rel_ci_high is None
    _cannot_decide(r, margin=0.05, higher_is_better=False)
    _cannot_decide(compare(treatment, control), margin=0.05, higher_is_better=False)  # a rise too


@pytest.mark.parametrize("k_t, n_t, k_c, n_c", [(0, 100, 2, 100), (3, 40, 9, 55), (12, 300, 4, 280),
                                                 (0, 20, 0, 25), (20, 20, 17, 30), (5, 1000, 0, 900)])
def test_newcombe_and_fisher_against_statsmodels_and_scipy(k_t, n_t, k_c, n_c):
    from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

    lo, hi = confint_proportions_2indep(k_t, n_t, k_c, n_c, method="newcomb", compare="diff")
    assert newcombe_difference(k_t, n_t, k_c, n_c) == pytest.approx((lo, hi), abs=1e-9)
    assert wilson(k_t, n_t) == pytest.approx(proportion_confint(k_t, n_t, method="wilson"), abs=1e-12)
    ref = stats.fisher_exact([[k_t, n_t - k_t], [k_c, n_c - k_c]]).pvalue
    assert fisher_exact_p(k_t, n_t, k_c, n_c) == pytest.approx(ref, rel=1e-9)


@pytest.mark.parametrize("n_t, n_c, p_t, p_c", [(60, 60, 0.05, 0.08), (200, 150, 0.02, 0.03), (40, 80, 0.2, 0.1)])
def test_mover_ratio_interval_exact_coverage(n_t, n_c, p_t, p_c):
    """Coverage of p_t/p_c by exact enumeration of both binomials (outcomes with p_c = 0 count as
    misses, since no interval is given): close to 95%, as Donner & Zou report for MOVER-R."""
    ks_t, ks_c = np.arange(n_t + 1), np.arange(n_c + 1)
    w = np.outer(stats.binom.pmf(ks_t, n_t, p_t), stats.binom.pmf(ks_c, n_c, p_c))
    covered = np.zeros_like(w, dtype=bool)
    for i in ks_t:
        for j in ks_c[1:]:
            lo, hi = mover_ratio(int(i), n_t, int(j), n_c)
            covered[i, j] = lo <= p_t / p_c <= hi
    cov = float((w * covered).sum())
    assert 0.93 <= cov <= 0.985, cov
    assert mover_ratio(1, 10, 0, 10) is None


def test_the_rule_threshold_and_effective_counts():
    base = S(5000, 300, 300)
    assert not compare(base, S(5000, 10, 10)).small_sample  # exactly 10 events: trusted
    assert compare(base, S(5000, 9, 9)).small_sample
    assert compare(S(20, 15, 15), S(20, 12, 12)).small_sample  # 5 and 8 users without the event
    # one user with 10 clicks out of 50 exposures is one effective user with an event, not ten
    one_heavy = S(400, 10.0, 100.0, 2000.0, 10_000.0, 50.0)
    many = S(400, 40.0, 40.0, 2000.0, 10_000.0, 200.0)
    assert compare(many, one_heavy).small_sample and not compare(many, many).small_sample


def test_normal_sized_data_stays_estimable(oracle_a):
    for key in ("ctr", "conversion", "revenue", "revenue_cuped"):
        r = compare(oracle_a[key]["control"], oracle_a[key]["treatment"])
        assert r.estimable and not r.small_sample and r.p_value is not None, key
    rng = np.random.default_rng(1)
    # 2% conversion at 2,000 users per arm: ~40 events per arm, far above the rule
    for _ in range(50):
        k = rng.binomial(2000, 0.02, 2)
        assert compare(S(2000, int(k[0]), int(k[0])), S(2000, int(k[1]), int(k[1]))).estimable


def test_round_off_standard_error_is_not_certainty():
    """Treatment all zero, control 15 users at 0.1: the delta-method variance of the relative lift is
    0 up to round-off (m_t = 0 kills the control term); it must be 'not estimable', never se ≈ 1e-17."""
    control, treatment = S(150, 15 * 0.1, 15 * 0.1 * 0.1), S(150, 0.0, 0.0)
    r = compare(control, treatment, min_events=0)  # the rule off: the round-off guard alone
    assert r.rel_lift == pytest.approx(-1.0)
    assert r.rel_se is None and r.rel_ci_low is None and r.rel_ci_high is None
    assert "round-off" in r.warning
    assert shown_worse(r, 0.02) is False and noninferiority(r, 0.02).passed is False
    assert math.isfinite(r.p_value)  # the absolute test still runs

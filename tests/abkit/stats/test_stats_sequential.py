"""Sequential testing: duality of the confidence sequence and p-value, and always-valid error
control under continuous peeking (simulation), where fixed-horizon peeking fails."""

from __future__ import annotations

import numpy as np
import pytest

from abkit.stats import SufficientStats, compare, confidence_sequence, sequential, sequential_p_value


@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_p_value_and_sequence_are_dual(alpha):
    for est in np.linspace(0.0, 0.05, 26):
        lo, hi = confidence_sequence(float(est), 0.01, 8000, tuning_n=5000, alpha=alpha)
        p = sequential_p_value(float(est), 0.01, 8000, tuning_n=5000, alpha=alpha)
        assert (p < alpha) is bool(lo > 0 or hi < 0)
    # at the estimate where the sequence touches 0, p equals alpha
    half = confidence_sequence(0.0, 0.01, 8000, tuning_n=5000, alpha=alpha)[1]
    assert sequential_p_value(half, 0.01, 8000, tuning_n=5000, alpha=alpha) == pytest.approx(alpha, rel=1e-9)


def test_sequence_is_wider_than_fixed_and_tightest_near_tuning_n():
    ratios = []
    for n in (1000, 5000, 20000, 100000):
        lo, hi = confidence_sequence(0.0, 1 / np.sqrt(n), n, tuning_n=5000)
        ratios.append((hi - lo) / (2 * 1.959964 / np.sqrt(n)))
    assert all(r > 1 for r in ratios)
    assert np.argmin(ratios) == 1


def test_always_valid_under_peeking():
    """Under H0, checking after every 200 users up to 20,000: the confidence sequence excludes 0
    (equivalently, by the duality above, the sequential p < 0.05) in at most ~5% of streams;
    the fixed-horizon test peeked at the same looks does far worse."""
    rng = np.random.default_rng(3)
    streams, step, looks = 5000, 200, 100
    n = np.arange(step, step * looks + 1, step)
    # N(0,1) data in blocks of `step`: block sum ~ N(0, step); Σx² = within-block χ²(step-1) + sum²/step
    block = rng.normal(0.0, np.sqrt(step), (streams, looks))
    sums = np.cumsum(block, axis=1)
    sq = np.cumsum(rng.chisquare(step - 1, (streams, looks)) + block**2 / step, axis=1)
    mean = sums / n
    se = np.sqrt((sq - n * mean**2) / (n - 1) / n)
    # the half-width is proportional to se: one call per look, then vectorized over streams
    half = np.array([confidence_sequence(0.0, 1.0, int(nj))[1] for nj in n])
    seq_hit = (np.abs(mean) > se * half).any(axis=1)
    j, k = np.argwhere(np.abs(mean) > se * half)[0]
    assert sequential_p_value(mean[j, k], se[j, k], int(n[k])) < 0.05
    fixed_hit = (np.abs(mean / se) > 1.959964).any(axis=1)
    assert seq_hit.mean() <= 0.05 + 2 * np.sqrt(0.05 * 0.95 / streams), seq_hit.mean()
    assert fixed_hit.mean() > 0.2, (seq_hit.mean(), fixed_hit.mean())
    assert seq_hit.mean() > 0.005  # valid, not vacuous


def test_sequential_row_fields():
    c, t = SufficientStats(3000, 1396, 1396), SufficientStats(3461, 2422, 2422)
    r = compare(c, t)
    s = sequential(r, c.n + t.n)
    assert s.seq_rel_ci_low < r.rel_ci_low < r.rel_lift < r.rel_ci_high < s.seq_rel_ci_high
    assert s.seq_p_value == pytest.approx(sequential_p_value(r.abs_lift, r.se, 6461))
    assert s.seq_p_value >= r.p_value
    empty = sequential(compare(SufficientStats(1, 1, 1), t), 3462)
    assert empty.seq_rel_ci_low is None and empty.seq_p_value is None


def _gb_half(se, n, tuning_n, alpha):
    """GrowthBook's asymptotic confidence-sequence half-width, written out independently."""
    la = -2 * np.log(alpha)
    rho2 = (la + np.log(la + 1)) / tuning_n
    return se * np.sqrt(n) * np.sqrt(2 * (n * rho2 + 1) / (n * n * rho2) * np.log(np.sqrt(n * rho2 + 1) / alpha))


@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_one_sided_bound_is_one_side_at_twice_alpha(alpha):
    from abkit.stats import one_sided_bound, one_sided_p_value

    est, se, n, tn = 0.03, 0.01, 12_000, 20_000
    lo = one_sided_bound(est, se, n, side="lower", tuning_n=tn, alpha=alpha)
    hi = one_sided_bound(est, se, n, side="upper", tuning_n=tn, alpha=alpha)
    half = _gb_half(se, n, tn, 2 * alpha)
    assert (lo, hi) == pytest.approx((est - half, est + half), rel=1e-12)
    two_sided_lo = confidence_sequence(est, se, n, tuning_n=tn, alpha=alpha)[0]
    fixed_lo = est - 1.6448536 * se if alpha == 0.05 else est - 1.2815516 * se
    assert two_sided_lo < lo < fixed_lo  # alpha is not split in two, yet wider than fixed-horizon
    for e in np.linspace(-0.01, 0.06, 36):
        p = one_sided_p_value(float(e), se, n, tuning_n=tn, alpha=alpha)
        assert (p < alpha) is bool(one_sided_bound(float(e), se, n, side="lower", tuning_n=tn, alpha=alpha) > 0)
    assert one_sided_p_value(half, se, n, tuning_n=tn, alpha=alpha) == pytest.approx(alpha, rel=1e-9)


def test_sequential_guardrail_bounds():
    from abkit.stats import SequentialDesign, noninferiority, shown_worse

    r = compare(SufficientStats(20_000, 200_000.0, 200_000.0 * 10 + 20_000 * 16.0),
                SufficientStats(20_000, 196_000.0, 196_000.0 * 9.8 + 20_000 * 16.0))
    design = SequentialDesign(40_000, 40_000)
    half = _gb_half(r.rel_se, 40_000, 40_000, 0.1)
    ni = noninferiority(r, 0.02, sequential=design)
    assert ni.bound == pytest.approx(r.rel_lift - half, rel=1e-12)
    assert ni.passed is (ni.bound > -0.02) is (ni.p_value < 0.05)
    fixed = noninferiority(r, 0.02)
    assert fixed.bound > ni.bound  # the always-valid bound is the wider one
    down = noninferiority(r, 0.02, higher_is_better=False, sequential=design)
    assert down.bound == pytest.approx(r.rel_lift + half, rel=1e-12)
    margin = -(r.rel_lift + half) - 1e-6  # the upper bound sits just below -margin
    assert shown_worse(r, margin, sequential=design) is True
    assert shown_worse(r, margin + 2e-6, sequential=design) is False


def test_tuning_n_none_falls_back_to_gbstats_default():
    from abkit.stats.sequential import DEFAULT_TUNING_N

    assert confidence_sequence(0.1, 0.02, 9000) == confidence_sequence(0.1, 0.02, 9000, tuning_n=DEFAULT_TUNING_N)
    small = sequential(compare(SufficientStats(100, 2, 2), SufficientStats(100, 0, 0)), 200)
    assert small.seq_p_value is None and small.seq_rel_ci_low is None

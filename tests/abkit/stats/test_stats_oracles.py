"""Every number of reference values from gbstats 0.8.0, tea-tasting 1.14, spotify-confidence 4.1, statsmodels 0.15 and scipy."""

from __future__ import annotations

import math

import pytest

from abkit.stats import (
    SufficientStats,
    adjust_pvalues,
    compare,
    confidence_sequence,
    sample_size_per_arm,
    sequential_p_value,
    srm_test,
)

A6 = dict(abs=5e-7)  # the oracle prints 6 decimals


def test_ctr_ratio_delta_method(oracle_a):
    r = compare(oracle_a["ctr"]["control"], oracle_a["ctr"]["treatment"])
    assert r.extra["kind"] == "ratio"
    assert r.abs_lift == pytest.approx(0.002157, **A6)
    assert r.abs_ci_low == pytest.approx(0.000394, **A6)
    assert r.abs_ci_high == pytest.approx(0.003920, **A6)
    assert r.p_value == pytest.approx(0.0164977, abs=5e-8)
    assert r.rel_lift == pytest.approx(0.033997, **A6)
    assert r.rel_ci_low == pytest.approx(0.005738, **A6)  # gbstats delta-method CI
    assert r.rel_ci_high == pytest.approx(0.062255, **A6)
    assert r.cuped is False and r.warning is None


def test_ctr_log_ratio_interval(oracle_a):
    r = compare(oracle_a["ctr"]["control"], oracle_a["ctr"]["treatment"], relative_ci="log")
    assert r.rel_ci_low == pytest.approx(0.006121, **A6)  # tea-tasting
    assert r.rel_ci_high == pytest.approx(0.062645, **A6)
    assert r.p_value == pytest.approx(0.0164977, abs=5e-8)  # p still tests the absolute difference


def test_ctr_naive_exposure_binomial_is_the_classic_mistake(oracle_a):
    """Exposures as Bernoulli trials: p = 0.00358, variance understated by ~1.48 (spotify-confidence 4.1 and statsmodels 0.15 agree)."""
    from statsmodels.stats.proportion import proportions_ztest

    c, t = oracle_a["ctr"]["control"], oracle_a["ctr"]["treatment"]
    _, p_naive = proportions_ztest([t.sum_y, c.sum_y], [t.sum_d, c.sum_d])
    assert p_naive == pytest.approx(0.00358, abs=5e-6)
    r = compare(c, t, cuped=False)
    naive_var = sum(s.sum_y / s.sum_d * (1 - s.sum_y / s.sum_d) / s.sum_d for s in (c, t))
    assert r.se**2 / naive_var == pytest.approx(1.48, abs=0.01)


def test_conversion_rate(oracle_a):
    r = compare(oracle_a["conversion"]["control"], oracle_a["conversion"]["treatment"])
    assert r.abs_lift == pytest.approx(0.005050, **A6)
    assert r.p_value == pytest.approx(0.0641441, abs=5e-8)  # Welch on 0/1
    # gbstats uses p(1-p)/n; abkit the unbiased variance (a factor n/(n-1)): 2e-6 apart here
    assert r.rel_ci_low == pytest.approx(-0.005947, abs=3e-6)
    assert r.rel_ci_high == pytest.approx(0.134691, abs=3e-6)


def test_revenue_per_user(oracle_a):
    r = compare(oracle_a["revenue"]["control"], oracle_a["revenue"]["treatment"])
    assert r.abs_lift == pytest.approx(0.648148, **A6)
    assert r.abs_ci_low == pytest.approx(-0.132974, **A6)
    assert r.abs_ci_high == pytest.approx(1.429269, **A6)
    assert r.p_value == pytest.approx(0.103881, **A6)
    assert r.rel_lift == pytest.approx(0.032857, **A6)
    assert r.rel_ci_low == pytest.approx(-0.007371, **A6)
    assert r.rel_ci_high == pytest.approx(0.073085, **A6)


def test_revenue_per_user_cuped(oracle_a):
    c, t = oracle_a["revenue_cuped"]["control"], oracle_a["revenue_cuped"]["treatment"]
    r = compare(c, t)
    assert r.cuped is True
    assert r.theta == pytest.approx(0.191251, **A6)
    assert r.abs_lift == pytest.approx(0.584600, **A6)
    assert r.abs_ci_low == pytest.approx(-0.172844, **A6)
    assert r.abs_ci_high == pytest.approx(1.342043, **A6)
    assert r.p_value == pytest.approx(0.130349, **A6)
    assert r.rel_lift == pytest.approx(0.029636, **A6)  # adjusted difference / raw control mean
    assert r.control_value == pytest.approx(394521.45 / 20000) and r.treatment_value == pytest.approx(407484.40 / 20000)
    assert 0 < r.variance_reduction < 1
    # tea-tasting / spotify: ratio of the adjusted means
    log = compare(c, t, relative_ci="log")
    assert log.extra["rel_lift_log"] == pytest.approx(0.029588, **A6)
    # without CUPED the same stats give the raw revenue row
    assert compare(c, t, cuped=False).p_value == pytest.approx(0.103881, **A6)


def test_sequential_gbstats():
    lo, hi = confidence_sequence(0.50386, 0.033860, 3000 + 3461, tuning_n=5000, alpha=0.05)
    # inputs and outputs are printed to 5 digits, so agreement is to ~1e-5
    assert lo == pytest.approx(0.40098, abs=1e-5) and hi == pytest.approx(0.60675, abs=1e-5)
    assert (hi - lo) / (2 * 1.959964 * 0.033860) == pytest.approx(1.550, abs=5e-4)
    assert sequential_p_value(0.01, 0.005, 10_000, tuning_n=5000) == pytest.approx(0.6259, abs=5e-5)


def test_sequential_from_proportions():
    """§B inputs through compare: lift 0.50386 (se 0.03386 with p(1-p)/n; ours is 1e-4 wider)."""
    from abkit.stats import sequential

    r = compare(SufficientStats(3000, 1396, 1396), SufficientStats(3461, 2422, 2422))
    assert r.rel_lift == pytest.approx(0.50386, abs=5e-6)
    assert r.rel_se == pytest.approx(0.033860, rel=2e-4)
    s = sequential(r, 6461, tuning_n=5000)
    assert s.seq_rel_ci_low == pytest.approx(0.40098, abs=5e-5)
    assert s.seq_rel_ci_high == pytest.approx(0.60675, abs=5e-5)


@pytest.mark.parametrize("obs, chi2, p", [([821588, 815482], 22.774, 1.82e-6),
                                          ([50000, 51000], None, 0.001652), ([5000, 5200], None, 0.0477)])
def test_srm_oracle(obs, chi2, p):
    r = srm_test(obs, [0.5, 0.5])
    if chi2 is not None:
        assert r.chi2 == pytest.approx(chi2, abs=5e-4)
    assert r.p_value == pytest.approx(p, rel=3e-3)
    assert r.ok is (r.p_value >= 0.001)
    assert r.expected == pytest.approx([sum(obs) / 2] * 2)


def test_two_proportion_z_oracle():
    """250/1000 vs 200/1000: pooled z = 2.6774, p = 0.007420; unpooled CI [0.013464, 0.086536]."""
    from statsmodels.stats.proportion import proportions_ztest

    z, p = proportions_ztest([250, 200], [1000, 1000])
    assert z == pytest.approx(2.6774, abs=5e-5) and p == pytest.approx(0.007420, abs=5e-7)
    r = compare(SufficientStats(1000, 200, 200), SufficientStats(1000, 250, 250))
    assert r.abs_lift == pytest.approx(0.05)
    # Welch = the unpooled z interval with the unbiased variance (×sqrt(n/(n-1))) and the t quantile
    from scipy import stats

    widen = math.sqrt(1000 / 999) * stats.t.ppf(0.975, r.df) / stats.norm.ppf(0.975)
    assert r.abs_ci_low == pytest.approx(0.05 - (0.05 - 0.013464) * widen, abs=1e-6)
    assert r.abs_ci_high == pytest.approx(0.05 + (0.086536 - 0.05) * widen, abs=1e-6)
    assert r.p_value == pytest.approx(p, rel=0.03)


def test_welch_summary_oracle():
    """means 10.5 vs 10.0, sd 3.0 vs 3.2, n 500 vs 520: t = 2.5754, p = 0.010153."""
    def stats_from(mean, sd, n):
        return SufficientStats(n, mean * n, sd * sd * (n - 1) + n * mean * mean)

    r = compare(stats_from(10.0, 3.2, 520), stats_from(10.5, 3.0, 500))
    assert r.abs_lift / r.se == pytest.approx(2.5754, abs=5e-5)
    assert r.p_value == pytest.approx(0.010153, abs=5e-7)


def test_multiple_testing_oracle():
    p = [0.01, 0.04, 0.03, 0.005]
    assert adjust_pvalues(p, "bh") == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert adjust_pvalues(p, "holm") == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_sample_size_oracle():
    n = sample_size_per_arm("proportion", 0.20, 0.25)
    assert round(n) == 1030 and math.ceil(n) == 1031  # Evan Miller's formula, unrounded 1030.2
    assert sample_size_per_arm("mean", 1.0, 0.2, variance=1.0) == pytest.approx(392.44, abs=5e-3)

"""Means and proportions against scipy/statsmodels on raw data; unestimable cases."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from abkit.stats import SufficientStats, compare, finite_or_none


def _ss(v: np.ndarray) -> SufficientStats:
    return SufficientStats(len(v), float(v.sum()), float((v * v).sum()))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_welch_matches_scipy_on_raw_data(seed):
    rng = np.random.default_rng(seed)
    c = rng.lognormal(1.0, 1.0, 300)
    t = rng.lognormal(1.1, 1.3, 180)
    r = compare(_ss(c), _ss(t), alpha=0.1)
    ref = stats.ttest_ind(t, c, equal_var=False)
    assert r.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    assert r.df == pytest.approx(ref.df, rel=1e-9)
    ci = ref.confidence_interval(0.9)
    assert (r.abs_ci_low, r.abs_ci_high) == pytest.approx((ci.low, ci.high), rel=1e-9)
    ref2 = stats.ttest_ind_from_stats(t.mean(), t.std(ddof=1), len(t), c.mean(), c.std(ddof=1), len(c),
                                      equal_var=False)
    assert r.p_value == pytest.approx(ref2.pvalue, rel=1e-9)
    assert r.control_value == pytest.approx(c.mean()) and r.treatment_value == pytest.approx(t.mean())


def test_relative_delta_interval_matches_influence_functions():
    """(m_t - m_c)/m_c with per-user influence values: t-users y/m_c, c-users -y·m_t/m_c²."""
    rng = np.random.default_rng(7)
    c, t = rng.gamma(2.0, 3.0, 400), rng.gamma(2.2, 3.0, 500)
    r = compare(_ss(c), _ss(t))
    ift, ifc = t / c.mean(), -c * t.mean() / c.mean() ** 2
    se = np.sqrt(ift.var(ddof=1) / len(t) + ifc.var(ddof=1) / len(c))
    assert r.rel_lift == pytest.approx(t.mean() / c.mean() - 1)
    assert r.rel_se == pytest.approx(se, rel=1e-10)
    q = stats.t.ppf(0.975, r.df)
    assert (r.rel_ci_low, r.rel_ci_high) == pytest.approx((r.rel_lift - q * se, r.rel_lift + q * se))


def test_proportion_close_to_statsmodels_wald():
    from statsmodels.stats.proportion import test_proportions_2indep

    r = compare(SufficientStats(5000, 400, 400), SufficientStats(5100, 460, 460))
    ref = test_proportions_2indep(460, 5100, 400, 5000, method="wald", compare="diff")
    # Welch on 0/1 and the unpooled Wald z differ only by n/(n-1) and t vs normal
    assert r.p_value == pytest.approx(ref.pvalue, rel=2e-3)
    assert r.abs_lift == pytest.approx(460 / 5100 - 400 / 5000)


def _json_clean(r) -> None:
    json.dumps(r.to_dict(), allow_nan=False)  # raises on NaN/inf


def test_too_few_users():
    r = compare(SufficientStats(1, 3.0, 9.0), SufficientStats(50, 100.0, 400.0))
    assert r.p_value is None and r.abs_lift is None and r.rel_ci_low is None
    assert r.control_value == 3.0 and r.treatment_value == 2.0
    assert "control arm has 1 user" in r.warning
    _json_clean(r)
    r0 = compare(SufficientStats(0, 0.0, 0.0), SufficientStats(0, 0.0, 0.0))
    assert r0.control_value is None and "control" in r0.warning and "treatment" in r0.warning
    _json_clean(r0)


def test_zero_variance_both_arms():
    # all users converted: below the small-sample rule (no users without the event) -> exact methods
    small = compare(SufficientStats(10, 10.0, 10.0), SufficientStats(12, 12.0, 12.0))
    assert small.small_sample and small.p_value == pytest.approx(1.0) and small.rel_se is None
    # with the rule off, the normal path says no test is possible
    r = compare(SufficientStats(10, 10.0, 10.0), SufficientStats(12, 12.0, 12.0), min_events=0)
    assert r.abs_lift == 0.0 and r.p_value is None and r.abs_ci_low is None and r.rel_ci_low is None
    assert "zero variance" in r.warning
    _json_clean(r)


def test_zero_control_mean():
    r = compare(SufficientStats(100, 0.0, 0.0), SufficientStats(100, 3.0, 3.0), min_events=0)
    assert r.rel_lift is None and r.rel_ci_low is None and r.rel_ci_high is None
    assert r.abs_lift == pytest.approx(0.03) and r.p_value is not None  # the absolute test still runs
    assert "control value is zero" in r.warning
    _json_clean(r)


def test_log_interval_needs_positive_values():
    r = compare(SufficientStats(3, -3.0, 5.0), SufficientStats(3, 3.0, 5.0), relative_ci="log", min_events=0)
    assert r.rel_ci_low is None and "positive" in r.warning
    assert r.p_value is not None


def test_bad_arguments():
    a = SufficientStats(10, 1.0, 1.0)
    with pytest.raises(ValueError):
        compare(a, SufficientStats(10, 1.0, 1.0, 5.0, 5.0, 1.0))
    with pytest.raises(ValueError):
        compare(a, a, alpha=1.5)
    with pytest.raises(ValueError):
        compare(a, a, relative_ci="fieller")


def test_finite_or_none():
    assert finite_or_none(float("nan")) is None and finite_or_none(float("inf")) is None
    assert finite_or_none(None) is None and finite_or_none(np.float64(2.5)) == 2.5

"""Ratio metrics: the delta method from sums equals a direct linearization of raw per-user arrays."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from abkit.stats import SufficientStats, compare, ratio_variance


def _users(rng, n, ctr):
    d = np.ceil(rng.lognormal(1.5, 1.0, n))
    y = rng.binomial(d.astype(int), rng.beta(2, 2 / ctr - 2, n)).astype(float)
    x = rng.binomial(np.ceil(rng.lognormal(1.5, 1.0, n)).astype(int), 0.5 * ctr) + 0.5 * y
    return y, d, x


def _ss(y, d, x=None) -> SufficientStats:
    if x is None:
        return SufficientStats(len(y), y.sum(), (y * y).sum(), d.sum(), (d * d).sum(), (y * d).sum())
    return SufficientStats(len(y), y.sum(), (y * y).sum(), d.sum(), (d * d).sum(), (y * d).sum(),
                           x.sum(), (x * x).sum(), (x * y).sum(), (x * d).sum())


def _lin(y, d):
    r = y.sum() / d.sum()
    return r, (y - r * d) / d.mean()


def test_delta_method_equals_hand_linearization():
    rng = np.random.default_rng(11)
    yc, dc, _ = _users(rng, 700, 0.05)
    yt, dt, _ = _users(rng, 650, 0.055)
    r = compare(_ss(yc, dc), _ss(yt, dt))
    rc, lc = _lin(yc, dc)
    rt, lt = _lin(yt, dt)
    vc, vt = lc.var(ddof=1) / len(lc), lt.var(ddof=1) / len(lt)
    assert r.control_value == pytest.approx(rc) and r.treatment_value == pytest.approx(rt)
    assert r.se == pytest.approx(np.sqrt(vc + vt), rel=1e-9)
    # the linearized values have mean 0, so Welch on (R + L) per arm is the delta-method test
    ref = stats.ttest_ind(rt + lt, rc + lc, equal_var=False)
    assert r.p_value == pytest.approx(ref.pvalue, rel=1e-8)
    assert r.df == pytest.approx(ref.df, rel=1e-8)
    # relative: influence values of R_t/R_c - 1 are L_t/R_c and -L_c·R_t/R_c²
    se_rel = np.sqrt((lt / rc).var(ddof=1) / len(lt) + (lc * rt / rc**2).var(ddof=1) / len(lc))
    assert r.rel_se == pytest.approx(se_rel, rel=1e-9)
    assert ratio_variance(_ss(yc, dc)) == pytest.approx(lc.var(ddof=1), rel=1e-9)


def test_covariance_term_matters():
    """Dropping Cov(y, d) (treating numerator and denominator as independent) is wrong: with y
    proportional to d the ratio has almost no variance, which only the covariance term captures."""
    rng = np.random.default_rng(3)
    d = np.ceil(rng.lognormal(1.5, 1.0, (2, 2000)))
    y = np.round(0.1 * d + rng.normal(0, 0.2, d.shape))
    r = compare(_ss(y[0], d[0]), _ss(y[1], d[1]))
    rc, lc = _lin(y[0], d[0])
    no_cov = (y[0].var(ddof=1) + rc**2 * d[0].var(ddof=1)) / d[0].mean() ** 2
    assert lc.var(ddof=1) < 0.2 * no_cov
    assert r.se**2 == pytest.approx(sum(_lin(y[i], d[i])[1].var(ddof=1) / 2000 for i in range(2)), rel=1e-9)


def test_ratio_cuped_equals_regression_on_linearized_values():
    rng = np.random.default_rng(5)
    yc, dc, xc = _users(rng, 900, 0.05)
    yt, dt, xt = _users(rng, 850, 0.05)
    r = compare(_ss(yc, dc, xc), _ss(yt, dt, xt))
    assert r.cuped is True
    # θ: slope of the pooled sample's linearized value on x
    y, d, x = np.r_[yc, yt], np.r_[dc, dt], np.r_[xc, xt]
    _, lp = _lin(y, d)
    theta = np.polyfit(x, lp, 1)[0]
    assert r.theta == pytest.approx(theta, rel=1e-9)
    rc, lc = _lin(yc, dc)
    rt, lt = _lin(yt, dt)
    zc, zt = rc + lc - theta * (xc - x.mean()), rt + lt - theta * (xt - x.mean())
    ref = stats.ttest_ind(zt, zc, equal_var=False)
    assert r.abs_lift == pytest.approx(zt.mean() - zc.mean(), rel=1e-9)
    assert r.p_value == pytest.approx(ref.pvalue, rel=1e-8)
    raw = lc.var(ddof=1) / len(lc) + lt.var(ddof=1) / len(lt)
    adj = zc.var(ddof=1) / len(zc) + zt.var(ddof=1) / len(zt)
    assert r.variance_reduction == pytest.approx(1 - adj / raw, rel=1e-9)
    assert r.variance_reduction > 0.05
    assert r.rel_lift == pytest.approx(r.abs_lift / rc)
    # rel se from influence values of (a_t - a_c)/R_c: z_t/R_c and -(z_c + rel·L_c)/R_c
    se_rel = np.sqrt((zt / rc).var(ddof=1) / len(zt) + ((zc + r.rel_lift * lc) / rc).var(ddof=1) / len(zc))
    assert r.rel_se == pytest.approx(se_rel, rel=1e-9)


def test_ratio_without_cross_sum_skips_cuped():
    rng = np.random.default_rng(9)
    yc, dc, xc = _users(rng, 200, 0.05)
    s = _ss(yc, dc, xc)
    no_xd = SufficientStats(s.n, s.sum_y, s.sum_y2, s.sum_d, s.sum_d2, s.sum_yd, s.sum_x, s.sum_x2, s.sum_xy)
    r = compare(no_xd, no_xd)
    assert r.cuped is False and r.theta is None and r.p_value == pytest.approx(1.0)


def test_zero_denominator_is_not_estimable():
    empty = SufficientStats(300, 0.0, 0.0, 0.0, 0.0, 0.0)  # e.g. cvr in an arm without clicks
    ok = SufficientStats(300, 10.0, 12.0, 40.0, 80.0, 20.0)
    r = compare(empty, ok)
    assert r.control_value is None and r.treatment_value == pytest.approx(0.25)
    assert r.p_value is None and r.rel_lift is None and "denominator sums to zero" in r.warning


def test_constant_ratio_has_zero_variance():
    d = np.arange(1, 41, dtype=float)
    r = compare(_ss(0.25 * d, d), _ss(0.25 * d, d))
    assert r.p_value is None and "zero variance" in r.warning

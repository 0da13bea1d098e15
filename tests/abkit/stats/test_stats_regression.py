"""Regression adjustment on cross-products: against single-covariate CUPED and statsmodels OLS on rows."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm

from abkit.stats import SufficientStats, compare
from abkit.stats.regression import CrossProducts, compare_adjusted, fit

NAMES = ("pre_y", "pre_other", "persona_b", "persona_c", "is_new")


def _cross(y, x, d=None) -> CrossProducts:
    ratio = d is not None
    return CrossProducts(
        n=len(y), sum_y=y.sum(), sum_y2=(y * y).sum(), sum_x=x.sum(0), sum_xx=x.T @ x, sum_xy=x.T @ y,
        names=NAMES[: x.shape[1]], sum_d=d.sum() if ratio else None, sum_d2=(d * d).sum() if ratio else None,
        sum_yd=(y * d).sum() if ratio else None, sum_xd=x.T @ d if ratio else None)


def _users(rng, n, lift=0.0):
    """Pre-period value, another pre-period metric, a 3-level persona (2 indicators) and a new-user flag."""
    persona = rng.integers(0, 3, n)
    new = rng.random(n) < 0.2
    pre_y = np.where(new, 0.0, rng.gamma(2.0, 5.0, n))
    pre_o = np.where(new, 0.0, 0.3 * pre_y + rng.gamma(1.0, 2.0, n))
    x = np.c_[pre_y, pre_o, persona == 1, persona == 2, new].astype(float)
    y = 0.5 * pre_y + 0.4 * pre_o + 3.0 * (persona == 2) - 2.0 * new + rng.normal(0, 4, n) + lift
    return y, x


def test_one_covariate_equals_cuped():
    """p = 1 must be today's CUPED to 1e-9 (mean and ratio)."""
    rng = np.random.default_rng(3)
    yc, xc = _users(rng, 900)
    yt, xt = _users(rng, 870, lift=0.7)
    reg = compare_adjusted(_cross(yc, xc[:, :1]), _cross(yt, xt[:, :1]))
    def ss(y, x):
        return SufficientStats(len(y), y.sum(), (y * y).sum(), sum_x=x.sum(), sum_x2=(x * x).sum(), sum_xy=(x * y).sum())

    cup = compare(ss(yc, xc[:, 0]), ss(yt, xt[:, 0]))
    for k in ("abs_lift", "se", "p_value", "rel_lift", "rel_se", "abs_ci_low", "variance_reduction"):
        assert getattr(reg, k) == pytest.approx(getattr(cup, k), rel=1e-9, abs=1e-12), k
    assert reg.extra["adjustment"] == "regression"
    assert reg.extra["theta_by_covariate"]["pre_y"] == pytest.approx(cup.theta, rel=1e-9)

    dc, dt = rng.poisson(6, 900) + 1.0, rng.poisson(6, 870) + 1.0
    kc, kt = rng.binomial(dc.astype(int), 0.1), rng.binomial(dt.astype(int), 0.11)
    kc, kt = kc.astype(float), kt.astype(float)
    reg = compare_adjusted(_cross(kc, xc[:, :1], dc), _cross(kt, xt[:, :1], dt))
    def ssr(y, x, d):
        return SufficientStats(len(y), y.sum(), (y * y).sum(), d.sum(), (d * d).sum(), (y * d).sum(),
                               x.sum(), (x * x).sum(), (x * y).sum(), (x * d).sum())

    cup = compare(ssr(kc, xc[:, 0], dc), ssr(kt, xt[:, 0], dt))
    for k in ("abs_lift", "se", "p_value", "rel_lift", "variance_reduction"):
        assert getattr(reg, k) == pytest.approx(getattr(cup, k), rel=1e-9, abs=1e-12), k


def test_mean_matches_statsmodels_ols_on_rows():
    """θ from OLS of y on [1, X] over both arms; the adjusted difference and its variance from the
    per-arm residual means and variances; and close to ANCOVA y ~ arm + X with HC1 errors."""
    rng = np.random.default_rng(11)
    yc, xc = _users(rng, 1500)
    yt, xt = _users(rng, 1400, lift=0.5)
    r = compare_adjusted(_cross(yc, xc), _cross(yt, xt))
    y, x = np.r_[yc, yt], np.r_[xc, xt]
    ols = sm.OLS(y, sm.add_constant(x)).fit()
    theta = ols.params[1:]
    assert [r.extra["theta_by_covariate"][k] for k in NAMES] == pytest.approx(theta, rel=1e-9)
    assert r.extra["r2"] == pytest.approx(ols.rsquared, rel=1e-9)
    zc, zt = yc - xc @ theta, yt - xt @ theta
    assert r.abs_lift == pytest.approx(zt.mean() - zc.mean(), rel=1e-9)
    assert r.se ** 2 == pytest.approx(zc.var(ddof=1) / len(zc) + zt.var(ddof=1) / len(zt), rel=1e-9)
    arm = np.r_[np.zeros(len(yc)), np.ones(len(yt))]
    ancova = sm.OLS(y, sm.add_constant(np.c_[arm, x])).fit(cov_type="HC1")
    assert r.abs_lift == pytest.approx(ancova.params[1], rel=0.05)
    assert r.se == pytest.approx(ancova.bse[1], rel=0.05)
    raw = compare(_cross(yc, xc).base(), _cross(yt, xt).base(), cuped=False)
    assert r.variance_reduction == pytest.approx(1 - r.se ** 2 / raw.se ** 2, rel=1e-9)
    assert r.variance_reduction > 0.3


def test_ratio_adjusts_the_linearization():
    """For a ratio, θ regresses the pooled linearization (y − R·d)/d̄ on X (statsmodels on rows)."""
    rng = np.random.default_rng(5)
    n = 2000
    _, xc = _users(rng, n)
    _, xt = _users(rng, n)
    dc, dt = rng.poisson(5, n) + 1.0, rng.poisson(5, n) + 1.0
    pc = np.clip(0.05 + 0.004 * xc[:, 0] + 0.03 * xc[:, 3], 0, 0.9)
    pt = np.clip(0.055 + 0.004 * xt[:, 0] + 0.03 * xt[:, 3], 0, 0.9)
    kc, kt = rng.binomial(dc.astype(int), pc).astype(float), rng.binomial(dt.astype(int), pt).astype(float)
    r = compare_adjusted(_cross(kc, xc, dc), _cross(kt, xt, dt))
    y, d, x = np.r_[kc, kt], np.r_[dc, dt], np.r_[xc, xt]
    lin = (y - y.sum() / d.sum() * d) / d.mean()
    theta = sm.OLS(lin, sm.add_constant(x)).fit().params[1:]
    assert [r.extra["theta_by_covariate"][k] for k in NAMES] == pytest.approx(theta, rel=1e-8)
    arm_lin = [(k - k.sum() / dd.sum() * dd) / dd.mean() - xx @ theta for k, dd, xx in ((kc, dc, xc), (kt, dt, xt))]
    assert r.se ** 2 == pytest.approx(sum(a.var(ddof=1) / n for a in arm_lin), rel=1e-8)


def test_collinear_and_constant_covariates():
    """All levels of a category (collinear after centering) and a constant column do not break θ;
    a constant column is reported as dropped; nothing varying means no adjustment."""
    rng = np.random.default_rng(8)
    yc, xc = _users(rng, 600)
    yt, xt = _users(rng, 600)
    full_c = np.c_[xc, 1 - xc[:, 2] - xc[:, 3], np.ones(600)]
    full_t = np.c_[xt, 1 - xt[:, 2] - xt[:, 3], np.ones(600)]
    names = (*NAMES, "persona_a", "const")
    def cp(y, x):
        return CrossProducts(len(y), y.sum(), (y * y).sum(), x.sum(0), x.T @ x, x.T @ y, names)

    full = compare_adjusted(cp(yc, full_c), cp(yt, full_t))
    small = compare_adjusted(_cross(yc, xc), _cross(yt, xt))
    assert full.abs_lift == pytest.approx(small.abs_lift, rel=1e-8)
    assert full.se == pytest.approx(small.se, rel=1e-8)
    assert full.extra["covariates_dropped"] == ["const"]
    zero = np.zeros((600, 1))
    none = compare_adjusted(_cross(yc, zero), _cross(yt, zero))
    assert none.extra["adjustment"] == "none" and not none.cuped and none.variance_reduction == 0.0


def test_fit_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match="sum_xx"):
        CrossProducts(10, 1.0, 1.0, np.zeros(2), np.zeros((3, 3)), np.zeros(2))
    with pytest.raises(ValueError, match="sum_xd"):
        CrossProducts(10, 1.0, 1.0, np.zeros(2), np.zeros((2, 2)), np.zeros(2), sum_d=5.0, sum_d2=5.0, sum_yd=1.0)
    assert fit([CrossProducts(1, 1.0, 1.0, np.ones(1), np.ones((1, 1)), np.ones(1))]) is None

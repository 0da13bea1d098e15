"""CUPED for means: θ pooled over the two arms, against a direct regression on raw arrays."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from abkit.stats import SufficientStats, compare


def _ss(y, x) -> SufficientStats:
    return SufficientStats(len(y), y.sum(), (y * y).sum(), sum_x=x.sum(), sum_x2=(x * x).sum(),
                           sum_xy=(x * y).sum())


def _data(rng, n, lift=0.0):
    x = rng.gamma(2.0, 10.0, n)
    y = 0.7 * x + rng.normal(0, 8, n) + lift
    return y, x


def test_cuped_mean_equals_pooled_regression():
    rng = np.random.default_rng(21)
    yc, xc = _data(rng, 800)
    yt, xt = _data(rng, 760, lift=1.0)
    r = compare(_ss(yc, xc), _ss(yt, xt))
    x, y = np.r_[xc, xt], np.r_[yc, yt]
    theta = np.polyfit(x, y, 1)[0]
    zc, zt = yc - theta * (xc - x.mean()), yt - theta * (xt - x.mean())
    ref = stats.ttest_ind(zt, zc, equal_var=False)
    assert r.cuped and r.theta == pytest.approx(theta, rel=1e-10)
    assert r.abs_lift == pytest.approx(zt.mean() - zc.mean(), rel=1e-10)
    assert r.p_value == pytest.approx(ref.pvalue, rel=1e-8)
    ci = ref.confidence_interval(0.95)
    assert (r.abs_ci_low, r.abs_ci_high) == pytest.approx((ci.low, ci.high), rel=1e-9)
    assert r.control_value == pytest.approx(yc.mean()) and r.treatment_value == pytest.approx(yt.mean())
    assert r.rel_lift == pytest.approx(r.abs_lift / yc.mean())
    assert r.extra["adj_control_value"] == pytest.approx(zc.mean())


def test_variance_reduction_is_rho_squared():
    """closed form: Var(Y - θ(X - X̄))/Var(Y) = 1 - ρ² (equal arms from one population)."""
    rng = np.random.default_rng(4)
    yc, xc = _data(rng, 50_000)
    yt, xt = _data(rng, 50_000)
    r = compare(_ss(yc, xc), _ss(yt, xt))
    rho = np.corrcoef(np.r_[xc, xt], np.r_[yc, yt])[0, 1]
    assert r.variance_reduction == pytest.approx(rho**2, abs=2e-3)
    raw = compare(_ss(yc, xc), _ss(yt, xt), cuped=False)
    assert r.se**2 == pytest.approx(raw.se**2 * (1 - r.variance_reduction), rel=1e-12)
    assert raw.variance_reduction == 0.0 and raw.theta is None


def test_constant_covariate_falls_back_to_raw():
    rng = np.random.default_rng(1)
    yc, _ = _data(rng, 100)
    yt, _ = _data(rng, 100)
    zero = np.zeros(100)
    r = compare(_ss(yc, zero), _ss(yt, zero))
    assert r.cuped is False and r.theta is None and r.variance_reduction == 0.0
    assert "constant" in r.extra["cuped_skipped"] and r.warning is None
    assert r.p_value == pytest.approx(stats.ttest_ind(yt, yc, equal_var=False).pvalue, rel=1e-9)

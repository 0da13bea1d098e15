"""Sample size, power and MDE against statsmodels and closed forms; days needed from growth."""

from __future__ import annotations

import math

import numpy as np
import pytest
from statsmodels.stats.power import NormalIndPower

from abkit.stats import SufficientStats, days_needed, mde_at, power_at, ratio_variance, sample_size_per_arm


@pytest.mark.parametrize("baseline, mde, var, alpha, power", [(10.0, 0.05, 9.0, 0.05, 0.8),
                                                              (2.0, -0.1, 1.5, 0.01, 0.9)])
def test_mean_matches_normal_ind_power(baseline, mde, var, alpha, power):
    es = abs(baseline * mde) / math.sqrt(var)
    n = sample_size_per_arm("mean", baseline, mde, alpha=alpha, power=power, variance=var)
    # statsmodels counts the far rejection tail (~1e-6 of power here), so its n is a hair smaller
    assert n == pytest.approx(NormalIndPower().solve_power(es, alpha=alpha, power=power), rel=1e-5)
    assert NormalIndPower().power(es, n, alpha) == pytest.approx(power, abs=1e-5)  # + far tail
    for m in (n / 2, n, 3 * n):
        assert power_at(m, "mean", baseline, mde, alpha=alpha, variance=var) == pytest.approx(
            NormalIndPower().power(es, m, alpha), rel=1e-10)
    assert mde_at(n, "mean", baseline, alpha=alpha, power=power, variance=var) == pytest.approx(abs(mde), rel=1e-9)


def test_proportion_round_trips():
    n = sample_size_per_arm("proportion", 0.05, 0.10)
    # power_at also counts the far rejection tail (~1.5e-6 here), the size formula does not
    assert power_at(n, "proportion", 0.05, 0.10) == pytest.approx(0.8, abs=1e-5)
    assert mde_at(n, "proportion", 0.05) == pytest.approx(0.10, rel=1e-6)
    assert power_at(n / 4, "proportion", 0.05, 0.10) < 0.35
    # a one-sided test needs fewer users
    assert sample_size_per_arm("proportion", 0.05, 0.10, two_sided=False) < n
    with pytest.raises(ValueError):
        sample_size_per_arm("proportion", 0.6, 1.0)  # a rate of 1.2
    assert mde_at(3, "proportion", 0.9) is None  # no reachable rate is detectable with 3 users


def test_ratio_from_historical_stats():
    rng = np.random.default_rng(2)
    d = np.ceil(rng.lognormal(1.5, 1.0, 5000))
    y = rng.binomial(d.astype(int), rng.beta(2, 38, 5000)).astype(float)
    hist = SufficientStats(5000, y.sum(), (y * y).sum(), d.sum(), (d * d).sum(), (y * d).sum())
    r = y.sum() / d.sum()
    var_l = ((y - r * d) / d.mean()).var(ddof=1)
    assert ratio_variance(hist) == pytest.approx(var_l, rel=1e-9)
    n = sample_size_per_arm("ratio", None, 0.05, historical=hist)
    z = 1.959963984540054 + 0.8416212335729143
    assert n == pytest.approx(z * z * 2 * var_l / (r * 0.05) ** 2, rel=1e-9)
    # exposures-as-trials would say (z²·2·r(1-r)/d̄)/δ², far too few users
    naive = z * z * 2 * r * (1 - r) / d.mean() / (r * 0.05) ** 2
    assert n > 1.3 * naive
    with pytest.raises(ValueError):
        sample_size_per_arm("ratio", 0.05, 0.05)  # no variance given


def _nbd_curve(days: int, seed: int = 0) -> np.ndarray:
    """Cumulative unique users of a population with Gamma(0.5, 0.05) daily trigger rates."""
    rng = np.random.default_rng(seed)
    first = rng.exponential(1 / rng.gamma(0.5, 0.05, 300_000))
    return np.searchsorted(np.sort(first), np.arange(1, days + 1), side="right")


def test_days_needed_follows_concave_growth():
    u = _nbd_curve(90)
    observed = u[:14]
    daily = observed[-1] / 14  # "users ÷ daily traffic"
    for day in (28, 42, 60):
        got = days_needed(observed, u[day - 1])
        assert got == pytest.approx(day, rel=0.10)
        assert u[day - 1] / daily < 0.8 * day  # the naive estimate is far too optimistic
    assert days_needed(observed, observed[5]) == 6  # already reached on day 6


def test_days_needed_shapes():
    t = np.arange(1, 15, dtype=float)
    assert days_needed(1000 * t, 30_000) == 30  # linear growth (new users every day)
    assert days_needed(np.round(1000 * t**0.6), 1000 * 40**0.6) == pytest.approx(40, abs=1)
    assert days_needed(_nbd_curve(14), 290_000) is None  # saturates below the target
    assert days_needed([50] * 10, 100) is None  # no growth
    assert days_needed([0, 0, 10], 100) is None  # one day of data
    assert days_needed(1000 * t, 10**9) is None  # past max_days
    with pytest.raises(ValueError):
        days_needed([10, 5], 100)

"""Ratio metrics (Σy/Σd over users, e.g. CTR = Σclicks/Σexposures): the delta method over users.

Users are the randomization unit, so the ratio's variance comes from the per-user linearization
L = (y - R·d)/d̄, whose variance holds the covariance term of y and d:
Var(R̂) ≈ (Var y - 2R·Cov(y,d) + R²·Var d) / (d̄²·n). Treating exposures as independent trials
instead understates the variance by the design effect (about 1.48 for CTR on the reference data of docs/statistics.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from abkit.stats.means import ArmMoments
from abkit.stats.types import SufficientStats
from abkit.stats.util import finite_or_none, sample_cov, sample_var, t_quantile


def _require_ratio(s: SufficientStats) -> tuple[float, float, float]:
    if s.sum_d is None or s.sum_d2 is None or s.sum_yd is None:
        raise ValueError("a ratio metric needs sum_d, sum_d2 and sum_yd")
    return s.sum_d, s.sum_d2, s.sum_yd


def ratio_moments(s: SufficientStats) -> ArmMoments:
    """Moments of the linearized ratio; requires n >= 2 and Σd != 0."""
    sum_d, sum_d2, sum_yd = _require_ratio(s)
    n = s.n
    d_mean = sum_d / n
    r = s.sum_y / sum_d
    var_y = sample_var(n, s.sum_y, s.sum_y2)
    var_d = sample_var(n, sum_d, sum_d2)
    cov_yd = sample_cov(n, s.sum_y, sum_d, sum_yd)
    scale = var_y + r * r * var_d
    var_l = var_y - 2 * r * cov_yd + r * r * var_d
    # y = R·d for every user makes L constant: exactly 0, not cancellation noise
    var_l = 0.0 if var_l <= 1e-12 * scale else var_l / (d_mean * d_mean)
    x_mean = var_x = cov_lx = None
    if s.sum_x is not None and s.sum_x2 is not None and s.sum_xy is not None and s.sum_xd is not None:
        x_mean = s.sum_x / n
        var_x = sample_var(n, s.sum_x, s.sum_x2)
        cov_yx = sample_cov(n, s.sum_y, s.sum_x, s.sum_xy)
        cov_dx = sample_cov(n, sum_d, s.sum_x, s.sum_xd)
        cov_lx = (cov_yx - r * cov_dx) / d_mean
    return ArmMoments(n, r, var_l, x_mean, var_x, cov_lx)


def ratio_variance(s: SufficientStats) -> float:
    """Per-user delta-method variance of the ratio, n·Var(R̂) = Var(L): the σ² that power
    calculations for ratio metrics take from historical sufficient statistics."""
    return ratio_moments(s).var_l


@dataclass(frozen=True)
class RatioInterval:
    """One group's ratio Σy/Σd with its user-clustered (delta-method) two-sided CI."""

    value: float | None
    se: float | None
    ci_low: float | None
    ci_high: float | None
    warning: str | None = None


def ratio_interval(s: SufficientStats, alpha: float = 0.05) -> RatioInterval:
    """Delta-method CI of one group's ratio: value ± t(1 − alpha/2, n − 1)·√(Var(L)/n).

    For descriptive tables (e.g. CTR by text feature); comparisons between arms use `compare`.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    _require_ratio(s)
    if s.n < 1 or not s.sum_d:
        return RatioInterval(None, None, None, None, "The denominator sums to zero, so the ratio is undefined.")
    value = s.sum_y / s.sum_d
    if s.n < 2:
        return RatioInterval(finite_or_none(value), None, None, None,
                             "Only 1 user: at least 2 are needed to estimate a variance.")
    se = math.sqrt(ratio_moments(s).var_l / s.n)
    q = t_quantile(1 - alpha / 2, s.n - 1)
    return RatioInterval(finite_or_none(value), finite_or_none(se), finite_or_none(value - q * se),
                         finite_or_none(value + q * se))

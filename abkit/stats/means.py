"""Means and proportions: per-arm moments and Welch's t-test on the absolute difference.

A proportion is the mean of a 0/1 value, so it takes the same path (Welch's t on 0/1 values with
the unbiased variance, docs/interface.md, Metrics); gbstats uses p(1-p)/n instead, a factor n/(n-1) apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from abkit.stats.types import SufficientStats
from abkit.stats.util import sample_cov, sample_var, two_sided_p


@dataclass(frozen=True)
class ArmMoments:
    """One arm reduced to what the tests need, for means and ratios alike.

    `value` is the arm's estimate (ȳ, or Σy/Σd); `var_l` the per-user variance of its influence
    value L (y itself for a mean, the linearization (y - R·d)/d̄ for a ratio), so that
    Var(value) ≈ var_l / n. The covariate fields (pre-period x for CUPED) are None when absent.
    """

    n: int
    value: float
    var_l: float
    x_mean: float | None = None
    var_x: float | None = None
    cov_lx: float | None = None

    @property
    def has_covariate(self) -> bool:
        return self.cov_lx is not None


def mean_moments(s: SufficientStats) -> ArmMoments:
    """Moments of a mean metric; requires n >= 2."""
    n = s.n
    x_mean = var_x = cov_lx = None
    if s.sum_x is not None and s.sum_x2 is not None and s.sum_xy is not None:
        x_mean = s.sum_x / n
        var_x = sample_var(n, s.sum_x, s.sum_x2)
        cov_lx = sample_cov(n, s.sum_y, s.sum_x, s.sum_xy)
    return ArmMoments(n, s.sum_y / n, sample_var(n, s.sum_y, s.sum_y2), x_mean, var_x, cov_lx)


def welch_df(v_c: float, v_t: float, n_c: int, n_t: int) -> float:
    """Welch–Satterthwaite degrees of freedom from the two variances of the arm estimates."""
    den = v_c * v_c / (n_c - 1) + v_t * v_t / (n_t - 1)
    return (v_c + v_t) ** 2 / den if den > 0 else math.inf


def welch(diff: float, v_c: float, v_t: float, n_c: int, n_t: int) -> tuple[float, float, float]:
    """(se, df, two-sided p) of Welch's t-test; v_c, v_t are variances of the arm estimates."""
    se = math.sqrt(v_c + v_t)
    df = welch_df(v_c, v_t, n_c, n_t)
    return se, df, two_sided_p(diff / se, df)

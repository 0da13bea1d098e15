"""Power, sample size and minimum detectable effect (relative MDE); days needed is in growth.py.

Two-sample normal approximation, equal arms, two-sided test at `alpha`:
- proportion (default): the formula Evan Miller's calculator uses, variance under H0 taken at the
  baseline rate p1 and under H1 at p1 and p2 = p1·(1 + mde_rel):
      n = (z_{1-α/2}·sqrt(2·p1·q1) + z_{power}·sqrt(p1·q1 + p2·q2))² / (p2 - p1)²
  (1,030 per arm for 0.20 → 0.25 as Evan Miller's calculator; statsmodels' arcsine/Cohen's h gives 1,092).
- mean and ratio: n = (z_{1-α/2} + z_{power})² · 2σ² / δ², δ = baseline·mde_rel, with σ² the
  per-user variance (sd² for a mean; for a ratio the delta-method variance of its linearization,
  `ratio_variance(historical_stats)`). Cohen's d = 0.2 gives 392.44 (closed form).
Sample sizes are returned unrounded; plan with math.ceil. `critical_value` replaces z_{1-α/2}
(e.g. an always-valid sequence's critical value, abkit/planning.py).
"""

from __future__ import annotations

import math
from typing import Literal

from scipy import optimize

from abkit.stats.growth import days_needed
from abkit.stats.ratio import ratio_variance
from abkit.stats.types import SufficientStats
from abkit.stats.util import normal_cdf, normal_quantile, sample_var

Kind = Literal["proportion", "mean", "ratio"]
__all__ = ["days_needed", "historical_baseline_and_variance", "mde_at", "power_at", "sample_size_per_arm"]


def historical_baseline_and_variance(stats: SufficientStats) -> tuple[float, float]:
    """(baseline value, per-user variance) of a metric from historical sufficient statistics."""
    if stats.n < 2:
        raise ValueError("historical statistics need at least 2 users")
    if stats.is_ratio:
        if not stats.sum_d:
            raise ValueError("historical ratio statistics have a zero denominator")
        return stats.sum_y / stats.sum_d, ratio_variance(stats)
    return stats.sum_y / stats.n, sample_var(stats.n, stats.sum_y, stats.sum_y2)


def _resolve(kind: Kind, baseline: float | None, variance: float | None,
             historical: SufficientStats | None) -> tuple[float, float | None]:
    if kind not in ("proportion", "mean", "ratio"):
        raise ValueError(f"kind must be 'proportion', 'mean' or 'ratio', got {kind!r}")
    if historical is not None:
        hb, hv = historical_baseline_and_variance(historical)
        baseline = hb if baseline is None else baseline
        variance = hv if variance is None and kind != "proportion" else variance
    if baseline is None or not math.isfinite(baseline) or baseline == 0:
        raise ValueError("a non-zero baseline value is needed (the MDE is relative to it)")
    if kind == "proportion" and variance is None and not 0 < baseline < 1:
        raise ValueError(f"a proportion baseline must be in (0, 1), got {baseline}")
    if kind != "proportion" and variance is None:
        raise ValueError(f"a {kind} metric needs its per-user variance (give variance= or historical=)")
    if variance is not None and not variance > 0:
        raise ValueError(f"variance must be positive, got {variance}")
    return baseline, variance


def _z_alpha(alpha: float, two_sided: bool, critical_value: float | None = None) -> float:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if critical_value is not None:
        if not critical_value > 0:
            raise ValueError(f"critical_value must be positive, got {critical_value}")
        return critical_value
    return normal_quantile(1 - alpha / 2 if two_sided else 1 - alpha)


def _sds(baseline: float, mde_rel: float, variance: float | None) -> tuple[float, float, float]:
    """(δ, sd under H0 of the difference × sqrt(n), same under H1)."""
    delta = baseline * mde_rel
    if variance is not None:
        s = math.sqrt(2 * variance)
        return delta, s, s
    p1, p2 = baseline, baseline * (1 + mde_rel)
    if not 0 < p2 < 1:
        raise ValueError(f"the treatment rate {p2:.4g} implied by the MDE is not a proportion")
    return delta, math.sqrt(2 * p1 * (1 - p1)), math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))


def sample_size_per_arm(
    kind: Kind, baseline: float | None, mde_rel: float, *, alpha: float = 0.05, power: float = 0.8,
    variance: float | None = None, historical: SufficientStats | None = None, two_sided: bool = True,
    critical_value: float | None = None,
) -> float:
    """Users per arm to detect a relative change `mde_rel` (formulas in the module docstring)."""
    if mde_rel == 0 or not math.isfinite(mde_rel):
        raise ValueError("the MDE must be a non-zero relative change, e.g. 0.05 for +5%")
    if not 0 < power < 1:
        raise ValueError(f"power must be in (0, 1), got {power}")
    baseline, variance = _resolve(kind, baseline, variance, historical)
    delta, s0, s1 = _sds(baseline, mde_rel, variance)
    return (_z_alpha(alpha, two_sided, critical_value) * s0 + normal_quantile(power) * s1) ** 2 / delta**2


def power_at(
    n_per_arm: float, kind: Kind, baseline: float | None, mde_rel: float, *, alpha: float = 0.05,
    variance: float | None = None, historical: SufficientStats | None = None, two_sided: bool = True,
    critical_value: float | None = None,
) -> float:
    """Power with n users per arm (both rejection tails counted when two-sided)."""
    if n_per_arm <= 0:
        raise ValueError("n_per_arm must be positive")
    baseline, variance = _resolve(kind, baseline, variance, historical)
    delta, s0, s1 = _sds(baseline, mde_rel, variance)
    za = _z_alpha(alpha, two_sided, critical_value)
    shift = abs(delta) * math.sqrt(n_per_arm)
    pw = normal_cdf((shift - za * s0) / s1)
    return pw + normal_cdf((-shift - za * s0) / s1) if two_sided else pw


def mde_at(
    n_per_arm: float, kind: Kind, baseline: float | None, *, alpha: float = 0.05, power: float = 0.8,
    variance: float | None = None, historical: SufficientStats | None = None, two_sided: bool = True,
) -> float | None:
    """Smallest positive relative effect detectable with n users per arm; None if no effect can
    be (a proportion whose rate would have to exceed 1)."""
    if n_per_arm <= 0:
        raise ValueError("n_per_arm must be positive")
    baseline, variance = _resolve(kind, baseline, variance, historical)
    za, zb = _z_alpha(alpha, two_sided), normal_quantile(power)
    if variance is not None:
        return (za + zb) * math.sqrt(2 * variance / n_per_arm) / abs(baseline)
    hi = (1 - 1e-9) / baseline - 1

    def gap(m: float) -> float:
        return sample_size_per_arm(kind, baseline, m, alpha=alpha, power=power, two_sided=two_sided) - n_per_arm

    if gap(hi) > 0:
        return None
    return float(optimize.brentq(gap, 1e-9, hi, xtol=1e-12))

"""Power at the spec's MDE with the sample reached, and the sample still needed.

Not "observed power" (which only restates the p-value): the effect plugged in is the planned
relative MDE, and the standard error is the one the analysis reached, read off the primary
metric's relative CI (so CUPED's variance reduction is included). Normal approximation:

    power(mde) = Φ(mde/se − z₁₋α/₂) + Φ(−mde/se − z₁₋α/₂)
    n_needed   = n · (se · (z₁₋α/₂ + z_power) / mde)²      (se ∝ 1/√n, arms growing together)

This reads only the result dict. The numbers come from abkit.stats.power (``power_at``,
``sample_size_per_arm``, kind "mean" on the relative scale: baseline 1, per-user variance
se²·n/2, which reproduces the formulas above exactly); the closed forms here are the fallback
when that module is absent. A ``planning`` block in the result is shown as well.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scipy.stats import norm


def se_from_ci(low: float, high: float, alpha: float) -> float:
    return (high - low) / (2 * norm.ppf(1 - alpha / 2))


def power_at_mde(*, se_rel: float, mde: float, alpha: float) -> float:
    z = norm.ppf(1 - alpha / 2)
    return float(norm.cdf(mde / se_rel - z) + norm.cdf(-mde / se_rel - z))


def users_needed(*, se_rel: float, users_per_arm: float, mde: float, alpha: float, power: float) -> int:
    k = se_rel * (norm.ppf(1 - alpha / 2) + norm.ppf(power)) / mde
    return math.ceil(users_per_arm * k * k)


@dataclass(frozen=True)
class ArmPlanning:
    arm: str
    users_per_arm: int
    se_rel: float
    power: float
    users_needed: int

    @property
    def users_still_needed(self) -> int:
        return max(0, self.users_needed - self.users_per_arm)


def _engine_power(n: int, se: float, mde: float, alpha: float, power: float) -> tuple[float, int] | None:
    """(power, users needed) from abkit.stats.power, or None when it is not available."""
    try:
        from abkit.stats.power import power_at, sample_size_per_arm
    except ImportError:
        return None
    variance = se * se * n / 2  # per-user variance on the relative scale (baseline 1)
    return (power_at(n, "mean", 1.0, mde, alpha=alpha, variance=variance),
            math.ceil(sample_size_per_arm("mean", 1.0, mde, alpha=alpha, power=power, variance=variance)))


def planning_rows(result: Mapping[str, Any], *, metric: str, mde: float, alpha: float, power: float) -> list[ArmPlanning]:
    """One entry per treatment arm compared with the control on ``metric`` (rows lacking a CI are skipped)."""
    control = result.get("control")
    users = result.get("users") or {}
    out = []
    for r in result.get("metrics", []):
        if r.get("metric") != metric or r.get("baseline", control) != control:
            continue
        lo, hi = r.get("rel_ci_low"), r.get("rel_ci_high")
        if not (isinstance(lo, int | float) and isinstance(hi, int | float) and hi > lo):
            continue
        n_arm = int(users.get(r["arm"], 0) or 0)
        n = min(n_arm, int(users.get(control, 0) or 0)) if control in users else n_arm
        if n <= 0:
            continue
        se = se_from_ci(lo, hi, alpha)
        got = _engine_power(n, se, mde, alpha, power)
        if got is None:
            got = (power_at_mde(se_rel=se, mde=mde, alpha=alpha),
                   users_needed(se_rel=se, users_per_arm=n, mde=mde, alpha=alpha, power=power))
        out.append(ArmPlanning(r["arm"], n, se, got[0], got[1]))
    return out

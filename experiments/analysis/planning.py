"""The planned sample and the ``planning`` block: power at the spec's MDE with the sample reached.

Not "observed power" (which only restates the p-value): the effect plugged in is the planned
relative MDE, and the standard error is the one the analysis reached, read off the primary
metric's relative CI (so CUPED's variance reduction is included). Normal approximation, through
abkit.stats.power with kind "mean" on the relative scale (baseline 1, per-user variance se²·n/2):

    power(mde) = Φ(mde/se − z₁₋α/₂) + Φ(−mde/se − z₁₋α/₂)
    n_needed   = n · (se · (z₁₋α/₂ + z_power) / mde)²      (se ∝ 1/√n, arms growing together)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from scipy.stats import norm

from abkit.metrics import METRICS
from abkit.spec import Spec
from abkit.stats.power import power_at, sample_size_per_arm
from abkit.stats.types import SufficientStats
from experiments.analysis.rows import Row


def planned_users_per_arm(spec: Spec, control: SufficientStats) -> tuple[int | None, str]:
    """From the spec when given, else from its MDE and power with the control arm's variance."""
    if spec.planned_users_per_arm is not None:
        return spec.planned_users_per_arm, "spec planned_users_per_arm"
    if spec.mde is None:
        return None, "no mde or planned_users_per_arm in the spec"
    kind = METRICS[spec.primary_metric].kind
    try:
        n = sample_size_per_arm(kind, None, spec.mde, alpha=spec.alpha, power=spec.power, historical=control)
    except ValueError as exc:
        return None, f"cannot size the test from the control arm: {exc}"
    return int(math.ceil(n)), (f"mde {spec.mde:g} at power {spec.power:g}, alpha {spec.alpha:g}, "
                               f"variance of the control arm ({kind})")


def se_from_ci(low: float, high: float, alpha: float) -> float:
    """The standard error behind a two-sided normal CI at level 1 − alpha."""
    return float((high - low) / (2 * norm.ppf(1 - alpha / 2)))


def arm_planning(arm: str, n: int, se: float, *, mde: float, alpha: float, power: float) -> dict[str, Any]:
    variance = se * se * n / 2  # per-user variance on the relative scale (baseline 1)
    return {"arm": arm, "users_per_arm": n, "se_rel": se,
            "power": power_at(n, "mean", 1.0, mde, alpha=alpha, variance=variance),
            "users_needed": math.ceil(sample_size_per_arm("mean", 1.0, mde, alpha=alpha, power=power,
                                                          variance=variance))}


def planning_block(spec: Spec, rows: list[Row], users: Mapping[str, int]) -> dict[str, Any] | None:
    """Per treatment arm vs control on the primary metric (rows lacking a CI are skipped);
    None when the spec has no MDE."""
    if spec.mde is None:
        return None
    control = spec.control_arm
    arms = []
    for r in rows:
        if r["metric"] != spec.primary_metric or r["baseline"] != control:
            continue
        lo, hi = r["rel_ci_low"], r["rel_ci_high"]
        if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
            continue
        n = min(int(users.get(r["arm"], 0)), int(users.get(control, 0)))
        if n > 0:
            arms.append(arm_planning(r["arm"], n, se_from_ci(lo, hi, spec.alpha),
                                     mde=spec.mde, alpha=spec.alpha, power=spec.power))
    return {"metric": spec.primary_metric, "mde": spec.mde, "alpha": spec.alpha, "power": spec.power, "arms": arms}

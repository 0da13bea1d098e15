"""Bayesian extras: chance to beat control and expected loss (Gaussian approximation).

With a flat prior, the posterior of the lift is approximately N(estimate, se²). By default the
lift is the relative one (rel_lift, rel_se), as GrowthBook reports it; `scale="absolute"` uses
abs_lift and se. Expected loss = E[max(0, -lift)] (the lift given up by shipping if the
treatment is in fact worse) = σ·φ(μ/σ) - μ·Φ(-μ/σ), in the units of that lift.
"""

from __future__ import annotations

import math
from typing import Literal

from abkit.stats.types import TestResult
from abkit.stats.util import finite_or_none, normal_cdf


def chance_to_beat(
    result: TestResult, *, higher_is_better: bool = True, scale: Literal["relative", "absolute"] = "relative"
) -> tuple[float | None, float | None]:
    """(chance_to_beat_control, expected_loss); (None, None) when the lift is not estimable."""
    mu, sigma = (result.rel_lift, result.rel_se) if scale == "relative" else (result.abs_lift, result.se)
    if mu is None or not sigma:
        return None, None
    if not higher_is_better:
        mu = -mu
    z = mu / sigma
    ctb = normal_cdf(z)
    loss = sigma * math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi) - mu * normal_cdf(-z)
    return finite_or_none(ctb), finite_or_none(max(loss, 0.0))

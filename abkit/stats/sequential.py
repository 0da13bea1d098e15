"""Always-valid inference: the Gaussian-mixture asymptotic confidence sequence of Waudby-Smith et
al. (arXiv 2103.06476), parameterized as GrowthBook's gbstats and Eppo use it.

With N the users so far (both arms), σ̂² = se²·N the per-user variance of the estimate and the
mixture parameter ρ² = (-2·log α + log(-2·log α + 1)) / N*, where N* (`tuning_n`) is the sample
size at which the interval is tightest:
    half-width = σ̂ · sqrt( 2(Nρ²+1)/(N²ρ²) · log( sqrt(Nρ²+1)/α ) ),
and the always-valid p-value is 1/E with the mixture e-value
    E = exp( ρ²·S² / (2(Nρ²+1)) ) / sqrt(Nρ²+1),   S² = (N·estimate/σ̂)² = N·(estimate/se)².
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from abkit.stats.types import TestResult
from abkit.stats.util import finite_or_none


@dataclass(frozen=True)
class SequentialResult:
    seq_rel_ci_low: float | None
    seq_rel_ci_high: float | None
    seq_p_value: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _rho2(alpha: float, tuning_n: float) -> float:
    if not 0 < alpha < 1 or tuning_n <= 0:
        raise ValueError("sequential testing needs 0 < alpha < 1 and tuning_n > 0")
    la = -2 * math.log(alpha)
    return (la + math.log(la + 1)) / tuning_n


def confidence_sequence(estimate: float, se: float, n: int, *, tuning_n: float = 5000,
                        alpha: float = 0.05) -> tuple[float, float]:
    """Always-valid (1-alpha) interval for `estimate` with standard error `se` after n users."""
    if n < 1 or se < 0:
        raise ValueError("confidence_sequence needs n >= 1 and se >= 0")
    rho2 = _rho2(alpha, tuning_n)
    nr = n * rho2 + 1
    half = se * math.sqrt(n) * math.sqrt(2 * nr / (n * n * rho2) * math.log(math.sqrt(nr) / alpha))
    return estimate - half, estimate + half


def sequential_p_value(estimate: float, se: float, n: int, *, tuning_n: float = 5000,
                       alpha: float = 0.05) -> float:
    """Always-valid p-value of H0: true value = 0 (the smallest alpha whose sequence excludes 0)."""
    if n < 1 or se <= 0:
        raise ValueError("sequential_p_value needs n >= 1 and se > 0")
    rho2 = _rho2(alpha, tuning_n)
    nr = n * rho2 + 1
    s2 = n * (estimate / se) ** 2
    log_e = rho2 * s2 / (2 * nr) - 0.5 * math.log(nr)
    return min(1.0, math.exp(-log_e)) if log_e < 700 else 0.0


def sequential(result: TestResult, n: int, *, tuning_n: float = 5000, alpha: float = 0.05) -> SequentialResult:
    """Sequential fields of a row: the always-valid CI of the relative lift (from rel_lift and its
    se) and the always-valid p-value of the absolute difference (as `p_value` tests it).
    `n` is the number of users in the two arms compared."""
    lo = hi = p = None
    if result.rel_lift is not None and result.rel_se is not None:
        lo, hi = confidence_sequence(result.rel_lift, result.rel_se, n, tuning_n=tuning_n, alpha=alpha)
    if result.abs_lift is not None and result.se:
        p = sequential_p_value(result.abs_lift, result.se, n, tuning_n=tuning_n, alpha=alpha)
    return SequentialResult(finite_or_none(lo), finite_or_none(hi), finite_or_none(p))

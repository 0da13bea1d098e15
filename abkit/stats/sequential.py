"""Always-valid inference: the Gaussian-mixture asymptotic confidence sequence of Waudby-Smith et
al. (arXiv 2103.06476), parameterized as GrowthBook's gbstats and Eppo use it.

With N the users so far (both arms), σ̂² = se²·N the per-user variance of the estimate and the
mixture parameter ρ² = (-2·log α + log(-2·log α + 1)) / N*, where N* (`tuning_n`) is the sample
size at which the interval is tightest:
    half-width = σ̂ · sqrt( 2(Nρ²+1)/(N²ρ²) · log( sqrt(Nρ²+1)/α ) ),
and the always-valid p-value is 1/E with the mixture e-value
    E = exp( ρ²·S² / (2(Nρ²+1)) ) / sqrt(Nρ²+1),   S² = (N·estimate/σ̂)² = N·(estimate/se)².

One-sided bounds (guardrails: non-inferiority and "shown worse") use one side of the two-sided
sequence at level 2α, as GrowthBook does for one-sided sequential tests: alpha is not split in
two, because the symmetric mixture's two boundary crossings are (nearly) disjoint events; the
one-sided always-valid p-value is 1/(2E) with ρ² tuned at 2α (the simulation in
tests/abkit/stats/test_decision_calibration.py checks the error rate at the margin).

N* defaults to the planned sample of the comparison (abkit.planning.tuning_n: planned users per
arm × the two arms compared, the N counted here); `DEFAULT_TUNING_N` (5,000, GrowthBook's
default) is only the fallback when no plan exists.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from abkit.stats.types import TestResult
from abkit.stats.util import finite_or_none

DEFAULT_TUNING_N = 5000


@dataclass(frozen=True)
class SequentialDesign:
    """Where a sequential test stands: `n` users so far in the two arms compared, tuned at
    `tuning_n` (None: DEFAULT_TUNING_N)."""

    n: int
    tuning_n: float | None = None


@dataclass(frozen=True)
class SequentialResult:
    seq_rel_ci_low: float | None
    seq_rel_ci_high: float | None
    seq_p_value: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _rho2(alpha: float, tuning_n: float | None) -> float:
    tuning_n = DEFAULT_TUNING_N if tuning_n is None else tuning_n
    if not 0 < alpha < 1 or tuning_n <= 0:
        raise ValueError("sequential testing needs 0 < alpha < 1 and tuning_n > 0")
    la = -2 * math.log(alpha)
    return (la + math.log(la + 1)) / tuning_n


def confidence_sequence(estimate: float, se: float, n: int, *, tuning_n: float | None = None,
                        alpha: float = 0.05) -> tuple[float, float]:
    """Always-valid (1-alpha) interval for `estimate` with standard error `se` after n users."""
    if n < 1 or se < 0:
        raise ValueError("confidence_sequence needs n >= 1 and se >= 0")
    rho2 = _rho2(alpha, tuning_n)
    nr = n * rho2 + 1
    half = se * math.sqrt(n) * math.sqrt(2 * nr / (n * n * rho2) * math.log(math.sqrt(nr) / alpha))
    return estimate - half, estimate + half


def sequential_p_value(estimate: float, se: float, n: int, *, tuning_n: float | None = None,
                       alpha: float = 0.05) -> float:
    """Always-valid p-value of H0: true value = 0 (the smallest alpha whose sequence excludes 0)."""
    if n < 1 or se <= 0:
        raise ValueError("sequential_p_value needs n >= 1 and se > 0")
    rho2 = _rho2(alpha, tuning_n)
    nr = n * rho2 + 1
    s2 = n * (estimate / se) ** 2
    log_e = rho2 * s2 / (2 * nr) - 0.5 * math.log(nr)
    return min(1.0, math.exp(-log_e)) if log_e < 700 else 0.0


def one_sided_bound(estimate: float, se: float, n: int, *, side: str, tuning_n: float | None = None,
                    alpha: float = 0.05) -> float:
    """Always-valid one-sided (1-alpha) bound: side 'lower' or 'upper' of the sequence at 2·alpha."""
    if side not in ("lower", "upper"):
        raise ValueError(f"side must be 'lower' or 'upper', got {side!r}")
    if not 0 < alpha < 0.5:
        raise ValueError(f"a one-sided sequential bound needs 0 < alpha < 0.5, got {alpha}")
    lo, hi = confidence_sequence(estimate, se, n, tuning_n=tuning_n, alpha=2 * alpha)
    return lo if side == "lower" else hi


def one_sided_p_value(estimate: float, se: float, n: int, *, tuning_n: float | None = None,
                      alpha: float = 0.05) -> float:
    """Always-valid p-value of H0: true value <= 0 against > 0 (pass a negated estimate for the
    other side); p < alpha exactly when `one_sided_bound(..., side='lower') > 0`."""
    if not 0 < alpha < 0.5:
        raise ValueError(f"a one-sided sequential p-value needs 0 < alpha < 0.5, got {alpha}")
    if estimate <= 0:
        return 1.0
    return min(1.0, sequential_p_value(estimate, se, n, tuning_n=tuning_n, alpha=2 * alpha) / 2)


def sequential(result: TestResult, n: int, *, tuning_n: float | None = None, alpha: float = 0.05) -> SequentialResult:
    """Sequential fields of a row: the always-valid CI of the relative lift (from rel_lift and its
    se) and the always-valid p-value of the absolute difference (as `p_value` tests it).
    `n` is the number of users in the two arms compared. A small-sample row has none."""
    lo = hi = p = None
    if result.small_sample:
        return SequentialResult(None, None, None)
    if result.rel_lift is not None and result.rel_se is not None:
        lo, hi = confidence_sequence(result.rel_lift, result.rel_se, n, tuning_n=tuning_n, alpha=alpha)
    if result.abs_lift is not None and result.se:
        p = sequential_p_value(result.abs_lift, result.se, n, tuning_n=tuning_n, alpha=alpha)
    return SequentialResult(finite_or_none(lo), finite_or_none(hi), finite_or_none(p))

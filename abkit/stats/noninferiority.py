"""Guardrails: one-sided non-inferiority of the relative lift against a margin (docs/interface.md, Analysis JSON).

For a higher-is-better metric, H0: lift <= -margin. "Non-inferior" when the one-sided (1-alpha)
lower bound of the lift is above -margin (equivalently p < alpha); "shown worse" when the
one-sided (1-alpha) upper bound is below -margin. A lower-is-better metric flips the signs
(worse means lift > +margin). Bounds use the t quantile at the result's Welch df and the
delta-method se of the lift, or the log scale when the result carries a log-ratio interval.

Sequential mode (`sequential=SequentialDesign(n, tuning_n)`): the bounds and p are the always-valid
one-sided ones of abkit.stats.sequential (linear scale), so peeking at every look keeps the error
rate at alpha. A row below the small-sample rule (`small_sample`) or with a round-off standard
error is inconclusive: never non-inferior, never shown worse (docs/statistics.md).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from abkit.stats.sequential import SequentialDesign, one_sided_bound, one_sided_p_value
from abkit.stats.types import TestResult
from abkit.stats.util import finite_or_none, t_quantile, t_sf


@dataclass(frozen=True)
class NonInferiority:
    p_value: float | None
    bound: float | None  # the one-sided bound on the side that matters (lower if higher is better)
    passed: bool
    inconclusive_reason: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _scale(result: TestResult, sequential: SequentialDesign | None = None) -> tuple[float, float, bool] | None:
    """(estimate, se, on_log_scale) of the relative lift, or None when not estimable."""
    if result.small_sample:
        return None
    if sequential is not None:
        return None if result.rel_lift is None or not result.rel_se else (result.rel_lift, result.rel_se, False)
    lse = result.extra.get("log_rel_se") if result.extra else None
    rel_log = result.extra.get("rel_lift_log") if result.extra else None
    if lse and rel_log is not None and rel_log > -1:
        return math.log1p(rel_log), lse, True
    if result.rel_lift is None or not result.rel_se:
        return None
    return result.rel_lift, result.rel_se, False


def _bounds(result: TestResult, alpha: float, sequential: SequentialDesign | None = None
            ) -> tuple[float, float, float, float, bool] | None:
    """(est, se, lower, upper, log) with one-sided (1-alpha) bounds on the lift scale."""
    sc = _scale(result, sequential)
    if sc is None:
        return None
    est, se, log = sc
    if sequential is not None:
        n, tn = sequential.n, sequential.tuning_n
        return (est, se, one_sided_bound(est, se, n, side="lower", tuning_n=tn, alpha=alpha),
                one_sided_bound(est, se, n, side="upper", tuning_n=tn, alpha=alpha), False)
    q = t_quantile(1 - alpha, result.df)
    lo, hi = est - q * se, est + q * se
    if log:
        lo, hi = math.expm1(lo), math.expm1(hi)
    return est, se, lo, hi, log


def _check(margin: float, alpha: float) -> None:
    if not (margin >= 0 and math.isfinite(margin)):
        raise ValueError(f"a non-inferiority margin must be a non-negative number, got {margin}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")


def noninferiority(
    result: TestResult, margin: float, *, alpha: float = 0.05, higher_is_better: bool = True,
    sequential: SequentialDesign | None = None,
) -> NonInferiority:
    """One-sided test that the relative lift is not worse than `margin` (e.g. 0.02 = 2%);
    always-valid when `sequential` is given."""
    _check(margin, alpha)
    b = _bounds(result, alpha, sequential)
    if b is None:
        why = result.warning or "the relative lift or its standard error is not available"
        return NonInferiority(None, None, False, f"The lift could not be estimated: {why}")
    est, se, lo, hi, log = b
    limit = -margin if higher_is_better else margin
    if log:
        if limit <= -1:
            raise ValueError("a margin of 100% or more cannot be tested on the log scale")
        lim_s = math.log1p(limit)
    else:
        lim_s = limit
    z = (est - lim_s) / se if higher_is_better else (lim_s - est) / se
    if sequential is not None:
        p = one_sided_p_value(z * se, se, sequential.n, tuning_n=sequential.tuning_n, alpha=alpha)
    else:
        p = t_sf(z, result.df)
    bound = lo if higher_is_better else hi
    passed = bool(bound > limit if higher_is_better else bound < limit)
    reason = None
    if not passed:
        side = "lower" if higher_is_better else "upper"
        rel = "above" if higher_is_better else "below"
        reason = (f"The one-sided {side} bound of the lift ({bound:+.2%}) is not {rel} the margin "
                  f"({limit:+.2%}).")
    return NonInferiority(finite_or_none(p), finite_or_none(bound), passed, reason)


def shown_worse(result: TestResult, margin: float, alpha: float = 0.05, higher_is_better: bool = True,
                sequential: SequentialDesign | None = None) -> bool:
    """True when the lift is shown worse than the margin: for a higher-is-better metric the
    one-sided (1-alpha) upper bound is below -margin (always-valid with `sequential`). False when
    it cannot be estimated or the row is below the small-sample rule."""
    _check(margin, alpha)
    b = _bounds(result, alpha, sequential)
    if b is None:
        return False
    _, _, lo, hi, _ = b
    return bool(hi < -margin if higher_is_better else lo > margin)

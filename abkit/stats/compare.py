"""`compare`: one treatment arm against a baseline, from the two arms' sufficient statistics.

Dispatch: a ratio metric when `sum_d` is present (delta method over users), a mean or proportion
otherwise. Then CUPED with θ pooled over the two arms (when asked and a covariate varies), Welch's
t-test on the absolute difference with Welch–Satterthwaite df, and the relative lift by the delta
method (or a log-ratio interval). Anything that cannot be estimated is None with a `warning`.

Below the small-sample rule of `abkit.stats.smallsample` (e.g. fewer than 10 users with an event
in an arm) the normal approximation is not used: a proportion gets Fisher's exact p and score
intervals, a ratio or mean null p and intervals; either way `small_sample` is True and the row
cannot decide anything by itself (docs/statistics.md).
"""

from __future__ import annotations

import math
from typing import Literal

from abkit.stats.cuped import adjust, covariate_usable, pooled_theta
from abkit.stats.means import mean_moments, welch
from abkit.stats.ratio import ratio_moments
from abkit.stats.relative import ROUNDOFF, delta_relative, log_relative
from abkit.stats.smallsample import (
    MIN_EVENTS,
    Kind,
    below_rule,
    fisher_exact_p,
    infer_kind,
    mover_ratio,
    newcombe_difference,
)
from abkit.stats.types import SufficientStats, TestResult
from abkit.stats.util import finite_or_none, t_quantile

RelativeCI = Literal["delta", "log"]


def _raw_value(s: SufficientStats) -> float | None:
    if s.n < 1:
        return None
    if s.is_ratio:
        return None if not s.sum_d else s.sum_y / s.sum_d
    return s.sum_y / s.n


def _unestimable(s: SufficientStats, arm: str) -> str | None:
    if s.n < 2:
        return f"The {arm} arm has {s.n} user(s); at least 2 are needed to estimate a variance."
    if s.is_ratio and not s.sum_d:
        return f"The {arm} arm's denominator sums to zero (e.g. no clicks for cvr), so its ratio is undefined."
    return None


def compare(
    control: SufficientStats,
    treatment: SufficientStats,
    *,
    alpha: float = 0.05,
    cuped: bool = True,
    relative_ci: RelativeCI = "delta",
    kind: Kind | None = None,
    min_events: float = MIN_EVENTS,
) -> TestResult:
    """Treatment vs control (docs/interface.md, Metrics): values raw, lifts CUPED-adjusted, p from Welch's t.

    `rel_lift` = adjusted difference / raw control value; its CI is two-sided at `alpha` with the
    t quantile at the Welch df (matches gbstats 0.8.0 / tea-tasting 1.14 to 6 decimals).
    `kind` ('mean', 'proportion', 'ratio') is inferred from the sums when None (0/1 values are a
    proportion); `min_events` is the small-sample rule's threshold (0 turns the rule off).
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if relative_ci not in ("delta", "log"):
        raise ValueError(f"relative_ci must be 'delta' or 'log', got {relative_ci!r}")
    if control.is_ratio != treatment.is_ratio:
        raise ValueError("control and treatment must both be ratio metrics or both be means")
    ratio = control.is_ratio
    kind = kind or infer_kind(control, treatment)
    if (kind == "ratio") != ratio:
        raise ValueError(f"kind {kind!r} does not match the sufficient statistics (sum_d present: {ratio})")
    c_val, t_val = _raw_value(control), _raw_value(treatment)
    extra: dict = {"kind": "ratio" if ratio else "mean", "metric_kind": kind, "n_control": control.n,
                   "n_treatment": treatment.n, "alpha": alpha, "rel_ci_method": relative_ci}
    warnings = [w for w in (_unestimable(control, "control"), _unestimable(treatment, "treatment")) if w]
    if warnings:
        return TestResult(finite_or_none(c_val), finite_or_none(t_val), None, None, None, None, None, None,
                          None, warning=" ".join(warnings), extra=extra, small_sample=True)

    moments = ratio_moments if ratio else mean_moments
    mc, mt = moments(control), moments(treatment)
    rule = below_rule(control, treatment, kind, min_events) if min_events > 0 else None
    if rule is None and kind != "proportion" and min_events > 0 and min(mc.var_l, mt.var_l) <= 0:
        arm = "control" if mc.var_l <= 0 else "treatment"
        rule = (f"The {arm} arm has zero variance in this metric, so the normal approximation cannot be "
                f"trusted and this row cannot decide anything by itself.")
    if rule is not None:
        assert c_val is not None and t_val is not None
        if kind == "proportion":
            return _small_proportion(control, treatment, alpha, rule, extra)
        return _without_interval(c_val, t_val, rule, extra)
    theta, x_pool, use_cuped = 0.0, 0.0, False
    if cuped and covariate_usable(control) and covariate_usable(treatment):
        pooled = pooled_theta(control, treatment)
        if pooled is None:
            extra["cuped_skipped"] = "the pre-period covariate is constant over both arms"
        else:
            (theta, x_pool), use_cuped = pooled, True
    ac, at = adjust(mc, theta, x_pool), adjust(mt, theta, x_pool)
    diff = at.value - ac.value
    var_raw = mc.var_l / mc.n + mt.var_l / mt.n
    var = ac.var + at.var
    extra["adj_control_value"] = finite_or_none(ac.value)
    extra["adj_treatment_value"] = finite_or_none(at.value)

    se = df = p = q = abs_lo = abs_hi = None
    if var > ROUNDOFF * var_raw and var > 0:
        se, df, p = welch(diff, ac.var, at.var, mc.n, mt.n)
        q = t_quantile(1 - alpha / 2, df)
        abs_lo, abs_hi = diff - q * se, diff + q * se
    else:
        warnings.append("Both arms have zero variance, so no test or interval is possible.")

    rel = rel_se = rel_lo = rel_hi = None
    if mc.value == 0:
        warnings.append("The control value is zero, so the relative lift is undefined.")
    else:
        rel, rel_se = delta_relative(at.value, ac.value, mc.value, at.var, ac.var, ac.cov_raw, mc.var_l / mc.n)
        if q is not None and rel_se is None:
            warnings.append("The relative lift's standard error is round-off of zero, so it has no interval.")
        elif q is not None and rel_se is not None and relative_ci == "delta":
            rel_lo, rel_hi = rel - q * rel_se, rel + q * rel_se
        elif q is not None:
            if at.value > 0 and ac.value > 0:
                lr, lse = log_relative(at.value, ac.value, at.var, ac.var)
                rel_lo, rel_hi = math.expm1(lr - q * lse), math.expm1(lr + q * lse)
                extra["log_rel_se"] = finite_or_none(lse)
                extra["rel_lift_log"] = finite_or_none(math.expm1(lr))
            else:
                warnings.append("The log-ratio interval needs positive values in both arms.")

    f = finite_or_none
    return TestResult(
        control_value=f(c_val),
        treatment_value=f(t_val),
        abs_lift=f(diff),
        abs_ci_low=f(abs_lo),
        abs_ci_high=f(abs_hi),
        rel_lift=f(rel),
        rel_ci_low=f(rel_lo),
        rel_ci_high=f(rel_hi),
        p_value=f(p),
        se=f(se),
        df=f(df),
        cuped=use_cuped,
        variance_reduction=(f(1 - var / var_raw) or 0.0) if use_cuped and var_raw > 0 else 0.0,
        theta=f(theta) if use_cuped else None,
        warning=" ".join(warnings) or None,
        extra=extra,
        rel_se=f(rel_se),
    )


def _without_interval(c_val: float, t_val: float, warning: str, extra: dict) -> TestResult:
    """A ratio or mean below the small-sample rule: point estimates, no p-value, no interval."""
    f = finite_or_none
    rel = t_val / c_val - 1 if c_val else None
    return TestResult(f(c_val), f(t_val), f(t_val - c_val), None, None, f(rel), None, None, None,
                      warning=warning, extra=extra, small_sample=True)


def _small_proportion(control: SufficientStats, treatment: SufficientStats, alpha: float, warning: str,
                      extra: dict) -> TestResult:
    """A proportion below the rule: Fisher's exact p, Newcombe's interval of the difference and the
    MOVER-R interval of the ratio (abkit.stats.smallsample); raw values, no CUPED."""
    k_c, k_t, n_c, n_t = int(control.sum_y), int(treatment.sum_y), control.n, treatment.n
    p_c, p_t = k_c / n_c, k_t / n_t
    lo, hi = newcombe_difference(k_t, n_t, k_c, n_c, alpha)
    ratio = mover_ratio(k_t, n_t, k_c, n_c, alpha)
    extra.update(p_method="fisher_exact", abs_ci_method="newcombe", rel_ci_method="mover_wilson")
    f = finite_or_none
    return TestResult(
        control_value=p_c, treatment_value=p_t, abs_lift=p_t - p_c, abs_ci_low=f(lo), abs_ci_high=f(hi),
        rel_lift=f(p_t / p_c - 1) if p_c > 0 else None,
        rel_ci_low=f(ratio[0] - 1) if ratio else None, rel_ci_high=f(ratio[1] - 1) if ratio else None,
        p_value=fisher_exact_p(k_t, n_t, k_c, n_c), warning=warning, extra=extra, small_sample=True)

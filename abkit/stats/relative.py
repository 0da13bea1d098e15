"""Relative lift (treatment / control - 1) and its standard error, two ways.

Delta method (default, docs/interface.md, Metrics): lift = (a_t - a_c)/m_c with a the (CUPED-adjusted) arm
estimates and m_c the raw control value; gradient (1/m_c, -1/m_c, -D/m_c²) with D = a_t - a_c.
Log-ratio (option): log(a_t/a_c) with Var ≈ Var(a_t)/a_t² + Var(a_c)/a_c², interval
exp(·) - 1 (tea-tasting's convention; with CUPED a is centred at the pooled covariate mean).

A variance that is round-off relative to the size of its terms is reported as None (not
estimable), never as 0: a zero standard error would read as certainty (docs/statistics.md).
"""

from __future__ import annotations

import math

ROUNDOFF = 1e-12  # relative size below which a variance is cancellation noise


def delta_relative(
    a_t: float, a_c: float, m_c: float, var_t: float, var_c: float, cov_c_raw: float, var_raw_c: float
) -> tuple[float, float | None]:
    """(lift, se) of (a_t - a_c)/m_c; var_* are variances of the arm estimates, cov_c_raw is
    Cov(a_c, m_c) and var_raw_c is Var(m_c). Without CUPED a_c = m_c and this is the usual
    Var = v_t/m_c² + m_t²·v_c/m_c⁴. se is None when the variance is round-off of its terms."""
    d = a_t - a_c
    positive = (var_t + var_c) / m_c**2 + d * d * var_raw_c / m_c**4
    var = positive + 2 * d * cov_c_raw / m_c**3
    if not var > ROUNDOFF * positive or not positive > 0:
        return d / m_c, None
    return d / m_c, math.sqrt(var)


def log_relative(a_t: float, a_c: float, var_t: float, var_c: float) -> tuple[float, float]:
    """(log(a_t/a_c), se of that log); both values must be positive."""
    return math.log(a_t / a_c), math.sqrt(var_t / a_t**2 + var_c / a_c**2)

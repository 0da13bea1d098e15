"""Small numeric helpers shared by the stats modules (fast scalar ufuncs, no NaN leaks)."""

from __future__ import annotations

import math

from scipy import special


def finite_or_none(x: float | None) -> float | None:
    """`x` as a plain float when it is finite, else None (the JSON never holds NaN or Infinity)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def t_quantile(p: float, df: float | None) -> float:
    """Quantile of Student's t (normal when df is None or huge); scipy.special is ~50x faster than
    scipy.stats for scalars, which matters in simulations that call the engine thousands of times."""
    if df is None or not math.isfinite(df) or df > 1e7:
        return float(special.ndtri(p))
    return float(special.stdtrit(df, p))


def t_sf(t: float, df: float | None) -> float:
    """Upper tail P(T > t) of Student's t (normal when df is None or huge)."""
    if df is None or not math.isfinite(df) or df > 1e7:
        return float(special.ndtr(-t))
    return float(special.stdtr(df, -t))


def two_sided_p(t: float, df: float | None) -> float:
    return min(1.0, 2.0 * t_sf(abs(t), df))


def normal_cdf(z: float) -> float:
    return float(special.ndtr(z))


def normal_quantile(p: float) -> float:
    return float(special.ndtri(p))


def sample_var(n: int, s: float, s2: float) -> float:
    """Unbiased variance from n, Σv, Σv²; a constant value gives exactly 0, not rounding noise."""
    num = s2 - s * s / n
    return 0.0 if num <= 1e-12 * abs(s2) else num / (n - 1)


def sample_cov(n: int, sa: float, sb: float, sab: float) -> float:
    """Unbiased covariance from n, Σa, Σb, Σab."""
    return (sab - sa * sb / n) / (n - 1)

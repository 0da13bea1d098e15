"""CUPED: one regression coefficient θ pooled over the two arms compared.

θ = Cov(L, x) / Var(x) on the two arms taken as one sample (L = y for a mean, the ratio's
linearization (y - R·d)/d̄ for a ratio, with R and d̄ of the pooled sample). Each arm's value
becomes value - θ·(x̄_arm - x̄_pooled), with per-user variance Var(L) - 2θ·Cov(L,x) + θ²·Var(x);
θ is treated as known, as gbstats, tea-tasting and spotify-confidence do (gbstats 0.8.0 and tea-tasting 1.14 give θ=0.191251 on docs/statistics.md's reference data).
The variance reduction is 1 - Var(L - θx)/Var(L) (= ρ² for the optimal θ of one sample).
"""

from __future__ import annotations

from dataclasses import dataclass

from abkit.stats.means import ArmMoments
from abkit.stats.types import SufficientStats
from abkit.stats.util import sample_cov, sample_var


def _add(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a + b


def pool(c: SufficientStats, t: SufficientStats) -> SufficientStats:
    """The two arms' sums added up, as if they were one sample."""
    return SufficientStats(
        n=c.n + t.n,
        sum_y=c.sum_y + t.sum_y,
        sum_y2=c.sum_y2 + t.sum_y2,
        sum_d=_add(c.sum_d, t.sum_d),
        sum_d2=_add(c.sum_d2, t.sum_d2),
        sum_yd=_add(c.sum_yd, t.sum_yd),
        sum_x=_add(c.sum_x, t.sum_x),
        sum_x2=_add(c.sum_x2, t.sum_x2),
        sum_xy=_add(c.sum_xy, t.sum_xy),
        sum_xd=_add(c.sum_xd, t.sum_xd),
    )


def covariate_usable(s: SufficientStats) -> bool:
    """True when the sums CUPED needs are present (Σxd too for a ratio)."""
    base = s.sum_x is not None and s.sum_x2 is not None and s.sum_xy is not None
    return base and (not s.is_ratio or s.sum_xd is not None)


def pooled_theta(c: SufficientStats, t: SufficientStats) -> tuple[float, float] | None:
    """(θ, pooled x̄), or None when the covariate is missing or constant over both arms."""
    if not (covariate_usable(c) and covariate_usable(t)):
        return None
    p = pool(c, t)
    n = p.n
    assert p.sum_x is not None and p.sum_x2 is not None and p.sum_xy is not None
    var_x = sample_var(n, p.sum_x, p.sum_x2)
    if not var_x > 1e-12 * max(1.0, (p.sum_x2 / n)):
        return None
    cov_lx = sample_cov(n, p.sum_y, p.sum_x, p.sum_xy)
    if p.is_ratio:
        assert p.sum_d is not None and p.sum_xd is not None
        if p.sum_d == 0:
            return None
        r = p.sum_y / p.sum_d
        cov_lx = (cov_lx - r * sample_cov(n, p.sum_d, p.sum_x, p.sum_xd)) / (p.sum_d / n)
    return cov_lx / var_x, p.sum_x / n


@dataclass(frozen=True)
class Adjusted:
    """One arm after CUPED: adjusted value, Var(adjusted value), Cov(adjusted value, raw value)."""

    value: float
    var: float
    cov_raw: float


def adjust(m: ArmMoments, theta: float, x_pool: float) -> Adjusted:
    """The arm's CUPED-adjusted estimate; with θ = 0 it is the raw estimate."""
    if theta == 0.0 or not m.has_covariate:
        v = m.var_l / m.n
        return Adjusted(m.value, v, v)
    assert m.x_mean is not None and m.var_x is not None and m.cov_lx is not None
    var_adj = max(m.var_l - 2 * theta * m.cov_lx + theta * theta * m.var_x, 0.0)
    return Adjusted(m.value - theta * (m.x_mean - x_pool), var_adj / m.n, (m.var_l - theta * m.cov_lx) / m.n)

"""Days needed: extrapolate the growth of cumulative unique triggered users (concave models)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import optimize


def _power_law(t: np.ndarray, u: np.ndarray) -> tuple[float, float, float]:
    """(t_k, U_k, b) of U(t) = U_k·(t/t_k)^b, b fitted on log-log over the later half, in [0, 1]."""
    tail = max(2, len(u) // 2)
    b = float(np.polyfit(np.log(t[-tail:]), np.log(u[-tail:]), 1)[0])
    return float(t[-1]), float(u[-1]), min(max(b, 0.0), 1.0)


def _power_law_at(p: tuple[float, float, float], t: np.ndarray) -> np.ndarray:
    return p[1] * (t / p[0]) ** p[2]


def _power_law_day(p: tuple[float, float, float], target: float) -> float:
    return math.inf if p[2] < 1e-6 else p[0] * (target / p[1]) ** (1 / p[2])


def _reach_at(q: np.ndarray, t: np.ndarray) -> np.ndarray:
    """NBD reach curve N·(1 - (1 + θt)^-k): users whose Poisson trigger rates are Gamma(k, θ)
    distributed, the classic model of cumulative unique reach; q = log(N, k, θ)."""
    n, k, th = np.exp(q)
    return n * -np.expm1(-k * np.log1p(th * t))


def _reach(t: np.ndarray, u: np.ndarray) -> np.ndarray | None:
    """Weighted least-squares fit of the reach curve (a few starts; None when it fails)."""
    def resid(q: np.ndarray) -> np.ndarray:
        return (_reach_at(q, t) - u) / np.sqrt(np.maximum(u, 1.0))

    lo = np.log([u[-1], 0.02, 1e-5])
    hi = np.log([u[-1] * 1e4, 50.0, 50.0])
    best = None
    for k0 in (0.3, 1.0, 3.0):
        for f in (1.5, 3.0, 10.0):
            x0 = np.clip(np.log([u[-1] * f, k0, 0.1]), lo + 1e-9, hi - 1e-9)
            try:
                r = optimize.least_squares(resid, x0, bounds=(lo, hi))
            except (ValueError, FloatingPointError):
                continue
            if best is None or r.cost < best.cost:
                best = r
    return None if best is None else best.x


def _reach_day(q: np.ndarray, target: float) -> float:
    n, k, th = np.exp(q)
    if target >= n:
        return math.inf  # the population saturates below the target
    return float(np.expm1(-np.log1p(-target / n) / k) / th)


def days_needed(cumulative_unique_users_by_day: Sequence[int], users_needed_total: float, *,
                max_days: int = 365) -> int | None:
    """Days from the start until the cumulative unique triggered users reach the total needed.

    Unique users grow concavely (returning users are not new), so dividing by daily traffic is
    optimistic. Two concave models are fitted to the observed curve: the NBD reach curve
    N·(1 - (1 + θt)^-k) (Gamma-distributed Poisson trigger rates; it can saturate) and a power
    law U_k·(t/k)^b with b in [0, 1] anchored at the last day. The one that better predicts the
    last third of the observed days from the first two thirds is refitted on all days and
    solved for the target. Returns the first observed day that reached the target when one did;
    None when the curve saturates below it or the day would be past `max_days`.
    """
    u = np.asarray(cumulative_unique_users_by_day, dtype=float)
    if u.ndim != 1 or np.any(~np.isfinite(u)) or np.any(u < 0):
        raise ValueError("cumulative users must be a list of non-negative counts, one per day")
    if np.any(np.diff(u) < 0):
        raise ValueError("cumulative unique users must not decrease from one day to the next")
    if users_needed_total <= 0:
        return 0
    reached = np.nonzero(u >= users_needed_total)[0]
    if reached.size:
        return int(reached[0]) + 1
    t = np.arange(1, len(u) + 1, dtype=float)
    pos = u > 0
    t, u = t[pos], u[pos]
    if len(u) < 2 or u[-1] <= u[0]:
        return None
    use_reach = False
    if len(u) >= 6:
        cut = len(u) - max(2, len(u) // 3)
        q = _reach(t[:cut], u[:cut])
        err_pl = np.abs(_power_law_at(_power_law(t[:cut], u[:cut]), t[cut:]) - u[cut:]).sum()
        use_reach = q is not None and np.abs(_reach_at(q, t[cut:]) - u[cut:]).sum() < err_pl
    q = _reach(t, u) if use_reach else None
    days = _reach_day(q, users_needed_total) if q is not None else _power_law_day(_power_law(t, u),
                                                                                 users_needed_total)
    return int(math.ceil(days - 1e-9)) if days <= max_days else None

"""When the normal approximation is trusted, and what stands in below that rule (docs/statistics.md).

The rule (`MIN_EVENTS` = 10, per arm of a comparison):
- proportion (a 0/1 value per user): at least 10 users with the event and 10 without;
- ratio Σy/Σd: at least 10 *effective* users with a numerator event, (Σy)²/Σy², and 10 with
  d − y ≠ 0, (Σ(d−y))²/Σ(d−y)²; by Cauchy–Schwarz (Σz)² ≤ k·Σz², so each is a lower bound on the
  number of users with z ≠ 0, equal to it for 0/1 values (one user's 10 clicks count once);
- mean: at least 10 effective users with a non-zero value, (Σy)²/Σy², and a non-zero variance.
The delta method and Welch's t lean on a sum of many non-zero terms; with a handful of events
(or none) in an arm the variance estimate is itself unreliable, and with no events it is zero,
so a control's variance gets multiplied by a treatment mean of 0 and the interval collapses.

Below the rule: a per-user proportion gets small-sample methods — Fisher's exact two-sided p,
Newcombe's hybrid score interval (Wilson intervals combined, "method 10") for the difference and
the MOVER-R interval of Donner & Zou (Wilson limits) for the ratio, hence the relative lift —;
a ratio or mean metric gets no p-value and no interval (null plus a warning): no exact method for
a user-clustered ratio is cheap and trustworthy. Either way the row is flagged `small_sample` and
can never stop, ship or pass a guardrail by itself.
"""

from __future__ import annotations

import math
from typing import Literal

from scipy import stats as sps

from abkit.stats.types import SufficientStats
from abkit.stats.util import normal_quantile

MIN_EVENTS = 10
Kind = Literal["mean", "proportion", "ratio"]


def effective_count(total: float, total_sq: float) -> float:
    """(Σz)²/Σz²: a lower bound on the number of non-zero z (equal to it for 0/1 values)."""
    return 0.0 if total_sq <= 0 else total * total / total_sq


def infer_kind(control: SufficientStats, treatment: SufficientStats) -> Kind:
    """'ratio' when Σd is present; 'proportion' when every value is 0/1 in both arms (Σy = Σy²,
    an integer count); otherwise 'mean'."""
    if control.is_ratio:
        return "ratio"
    if all(s.sum_y == s.sum_y2 and float(s.sum_y).is_integer() and 0 <= s.sum_y <= s.n for s in (control, treatment)):
        return "proportion"
    return "mean"


def event_counts(s: SufficientStats, kind: Kind) -> tuple[float, float | None]:
    """(effective users with an event, effective users without) of one arm; None where the rule
    has no 'without' side (means)."""
    if kind == "proportion":
        return s.sum_y, s.n - s.sum_y
    events = effective_count(s.sum_y, s.sum_y2)
    if kind == "ratio":
        assert s.sum_d is not None and s.sum_d2 is not None and s.sum_yd is not None
        rest_sq = s.sum_d2 - 2 * s.sum_yd + s.sum_y2
        return events, effective_count(s.sum_d - s.sum_y, rest_sq)
    return events, None


def below_rule(control: SufficientStats, treatment: SufficientStats, kind: Kind,
               min_events: float = MIN_EVENTS) -> str | None:
    """A one-sentence warning when either arm is below the rule of the module docstring, else None."""
    problems = []
    for arm, s in (("control", control), ("treatment", treatment)):
        events, rest = event_counts(s, kind)
        if events < min_events:
            problems.append(f"the {arm} arm has {_count(events)} user(s) with an event")
        if rest is not None and rest < min_events:
            problems.append(f"the {arm} arm has {_count(rest)} user(s) without one")
    if not problems:
        return None
    return (f"Too few events for the normal approximation ({'; '.join(problems)}; the rule is at least "
            f"{min_events:g} per arm), so this row cannot decide anything by itself.")


def _count(x: float) -> str:
    return f"{x:.0f}" if abs(x - round(x)) < 1e-9 else f"about {x:.1f}"


def wilson(k: float, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion k/n (two-sided 1 − alpha)."""
    z = normal_quantile(1 - alpha / 2)
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_difference(k_t: float, n_t: int, k_c: float, n_c: int, alpha: float = 0.05) -> tuple[float, float]:
    """Newcombe's hybrid score interval for p_t − p_c (Newcombe 1998, method 10)."""
    p_t, p_c = k_t / n_t, k_c / n_c
    l_t, u_t = wilson(k_t, n_t, alpha)
    l_c, u_c = wilson(k_c, n_c, alpha)
    d = p_t - p_c
    return d - math.hypot(p_t - l_t, u_c - p_c), d + math.hypot(u_t - p_t, p_c - l_c)


def mover_ratio(k_t: float, n_t: int, k_c: float, n_c: int, alpha: float = 0.05) -> tuple[float, float] | None:
    """MOVER-R interval of p_t / p_c from Wilson limits (Donner & Zou 2012); None when p_c = 0."""
    p1, p2 = k_t / n_t, k_c / n_c
    if p2 <= 0:
        return None
    l1, u1 = wilson(k_t, n_t, alpha)
    l2, u2 = wilson(k_c, n_c, alpha)
    pp = p1 * p2
    low = (pp - math.sqrt(max(pp * pp - l1 * u2 * (2 * p1 - l1) * (2 * p2 - u2), 0.0))) / (u2 * (2 * p2 - u2))
    high = (pp + math.sqrt(max(pp * pp - u1 * l2 * (2 * p1 - u1) * (2 * p2 - l2), 0.0))) / (l2 * (2 * p2 - l2))
    return low, high


def fisher_exact_p(k_t: int, n_t: int, k_c: int, n_c: int) -> float:
    """Two-sided Fisher exact p of the 2×2 table: the probability, under the hypergeometric law
    with the margins fixed, of tables no more likely than the observed one."""
    total, events = n_t + n_c, k_t + k_c
    dist = sps.hypergeom(total, events, n_t)
    lo, hi = max(0, events - n_c), min(events, n_t)
    ks = range(lo, hi + 1)
    pmf = dist.pmf(list(ks))
    observed = dist.pmf(k_t)
    return float(min(1.0, pmf[pmf <= observed * (1 + 1e-7)].sum()))

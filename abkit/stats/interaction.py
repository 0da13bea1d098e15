"""Interaction between two concurrent experiments that share users.

Input: sufficient statistics per (arm of experiment A, arm of experiment B) over the users in
both. Two tests:

- independence of the assignments: Pearson's χ² on the A-arm × B-arm user counts (a broken or
  shared hash shows up here);
- interaction: A's relative lift (treatment vs control) within each arm of B, and Cochran's Q
  that those lifts are equal (for two B arms, the z test of their difference squared).

Either p below ``alpha`` (default 0.01) flags the pair for the health section.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats as sps

from abkit.stats.compare import compare
from abkit.stats.heterogeneity import tau2_moments
from abkit.stats.types import SufficientStats

FLAG_ALPHA = 0.01


@dataclass(frozen=True)
class InteractionResult:
    experiment: str
    other: str
    users_in_both: int
    chi2: float | None
    chi2_df: int
    chi2_p: float | None
    lifts: dict[str, float | None]  # A's relative lift within each arm of B
    q: float | None
    q_df: int
    interaction_p: float | None
    alpha: float
    flagged: bool
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def assignment_independence(counts: np.ndarray) -> tuple[float | None, int, float | None]:
    """(χ², df, p) of independence in an A × B table of user counts; None when a margin is empty."""
    counts = np.asarray(counts, dtype=float)
    counts = counts[counts.sum(1) > 0][:, counts.sum(0) > 0]
    if counts.shape[0] < 2 or counts.shape[1] < 2:
        return None, 0, None
    expected = np.outer(counts.sum(1), counts.sum(0)) / counts.sum()
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    df = (counts.shape[0] - 1) * (counts.shape[1] - 1)
    return chi2, df, float(sps.chi2.sf(chi2, df))


def interaction(cells: dict[tuple[str, str], SufficientStats], *, experiment: str, other: str,
                control: str, treatment: str, alpha: float = FLAG_ALPHA) -> InteractionResult:
    """``cells[(arm of A, arm of B)]``: sums over users in both experiments; A's ``control`` vs ``treatment``."""
    a_arms = sorted({a for a, _ in cells})
    b_arms = sorted({b for _, b in cells})
    table = np.array([[cells[(a, b)].n if (a, b) in cells else 0 for b in b_arms] for a in a_arms])
    chi2, chi2_df, chi2_p = assignment_independence(table)
    lifts: dict[str, float | None] = {}
    est, se = [], []
    for b in b_arms:
        c, t = cells.get((control, b)), cells.get((treatment, b))
        if c is None or t is None:
            lifts[b] = None
            continue
        r = compare(c, t, cuped=False, min_events=0)
        lifts[b] = r.rel_lift
        if r.rel_lift is not None and r.rel_se is not None and r.rel_se > 0:
            est.append(r.rel_lift)
            se.append(r.rel_se)
    q = q_p = None
    q_df = len(est) - 1
    if q_df >= 1:
        q = tau2_moments(np.array(est), np.array(se))[1]
        q_p = float(sps.chi2.sf(q, q_df))
    dependent = chi2_p is not None and chi2_p < alpha
    interacts = q_p is not None and q_p < alpha
    parts = []
    if dependent:
        parts.append(f"the arms of {experiment} and {other} are not independent (χ² p = {chi2_p:.2g})")
    if interacts:
        parts.append(f"{experiment}'s lift differs across {other}'s arms (interaction p = {q_p:.2g})")
    message = ("; ".join(parts) if parts else
               f"no interaction with {other} detected at p < {alpha:g}")
    return InteractionResult(experiment, other, int(table.sum()), chi2, chi2_df, chi2_p, lifts, q, q_df, q_p,
                             alpha, dependent or interacts, message)

"""Heterogeneous-effects explorer: lifts per slice, FDR across slices, empirical-Bayes shrinkage.

Input: for each slice (a value, or a pair of values, of user-level dimensions) the two arms'
sufficient statistics, plus the whole experiment's. Per slice:

- the relative lift and its delta-method standard error (``compare``, without CUPED);
- a heterogeneity call: the slice's lift against the rest of the experiment's (overall sums minus
  the slice's — disjoint users for a user-level dimension), a two-sided z test of the log ratios, with the false
  discovery rate controlled over *every* slice scanned (all arms, dimensions and pairs;
  a Šidák–Bonferroni gate per family, then BH within, see `explore_arms`);
- a shrunk lift: normal–normal empirical Bayes toward the overall lift, τ² of the dimension's
  partition by the method of moments (DerSimonian–Laird), shrunk = μ + τ²/(τ²+s²)·(lift − μ);

and per dimension (or crossed pair) Cochran's Q, a test that the lifts differ at all.
Everything here is exploratory: slices were not pre-registered, and the report says so.

Item-level dimensions (e.g. category) split a user's exposures, not users: their slice sums must
be user-clustered (one row per user and slice) and a slice's rest shares users with it, so the
z test's independence does not hold (``user_level=False`` marks such rows).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from abkit.stats.compare import compare
from abkit.stats.multiplicity import adjust_pvalues
from abkit.stats.types import SufficientStats

EXPLORATORY = ("Exploratory: slices were not pre-registered. Calls control the false discovery rate over every "
               "arm, dimension and slice scanned (a Šidák–Bonferroni gate per dimension, then Benjamini–Hochberg within); shrunk lifts pull small slices "
               "toward the overall lift.")
_SUMS = ("sum_y", "sum_y2", "sum_d", "sum_d2", "sum_yd")


@dataclass(frozen=True)
class SliceStats:
    """One slice: the dimension names, their values, and each arm's sums (covariates ignored)."""

    dimensions: tuple[str, ...]
    values: tuple[str, ...]
    control: SufficientStats
    treatment: SufficientStats
    user_level: bool = True

    @property
    def label(self) -> str:
        return " × ".join(f"{d}={v}" for d, v in zip(self.dimensions, self.values, strict=True))


@dataclass(frozen=True)
class SliceRow:
    dimensions: tuple[str, ...]
    values: tuple[str, ...]
    label: str
    n_control: int
    n_treatment: int
    control_value: float | None
    rel_lift: float | None
    rel_se: float | None
    rel_ci_low: float | None
    rel_ci_high: float | None
    p_vs_rest: float | None  # the slice's lift against the rest's
    q_value: float | None  # Benjamini–Hochberg over all slices scanned
    significant: bool
    shrunk_lift: float | None
    shrunk_se: float | None
    weight: float  # the slice's share of the control's numerator (its weight in the overall lift)
    user_level: bool = True
    rank: int | None = None
    note: str | None = None


@dataclass(frozen=True)
class DimensionTest:
    """Cochran's Q that the slice lifts of one dimension (or crossed pair) are all equal."""

    dimensions: tuple[str, ...]
    q: float
    df: int
    p_value: float
    tau2: float
    slices: int


@dataclass
class Exploration:
    overall_lift: float | None
    overall_se: float | None
    rows: list[SliceRow]
    tests: list[DimensionTest]
    alpha: float
    min_users: int
    note: str = EXPLORATORY
    skipped: list[str] = field(default_factory=list)

    @property
    def any_significant(self) -> bool:
        return any(r.significant for r in self.rows)

    def ranked(self) -> list[SliceRow]:
        return sorted((r for r in self.rows if r.rank is not None), key=lambda r: r.rank or 0)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(r) for r in self.rows])

    def to_dict(self) -> dict[str, Any]:
        return {"overall_lift": self.overall_lift, "overall_se": self.overall_se, "alpha": self.alpha,
                "min_users": self.min_users, "note": self.note, "skipped": self.skipped,
                "slices": [asdict(r) for r in self.ranked()] + [asdict(r) for r in self.rows if r.rank is None],
                "tests": [asdict(t) for t in self.tests]}


def subtract(total: SufficientStats, part: SufficientStats) -> SufficientStats:
    """The sums of the users in ``total`` but not in ``part`` (covariates dropped)."""
    vals = {k: (None if getattr(total, k) is None else getattr(total, k) - (getattr(part, k) or 0.0))
            for k in _SUMS}
    return SufficientStats(total.n - part.n, **vals)  # type: ignore[arg-type]


def _plain(s: SufficientStats) -> SufficientStats:
    return replace(s, sum_x=None, sum_x2=None, sum_xy=None, sum_xd=None)


def tau2_moments(est: np.ndarray, se: np.ndarray) -> tuple[float, float]:
    """(τ², Cochran's Q) by DerSimonian–Laird's method of moments."""
    w = 1.0 / se**2
    mean = float((w * est).sum() / w.sum())
    q = float((w * (est - mean) ** 2).sum())
    denom = float(w.sum() - (w**2).sum() / w.sum())
    return (max(0.0, (q - (len(est) - 1)) / denom) if denom > 0 else 0.0), q


def difference_p_value(lift: Any, se: Any, other_lift: Any, other_se: Any) -> Any:
    """Two-sided p-value that two independent relative lifts are equal (scalars or arrays).

    Compared on the log scale, log(1 + lift) with standard error se / (1 + lift) (the delta
    method's, as for a log ratio of means in meta-analysis): the ratio of two means is skewed, and
    the family gates test in the deep tail (p near 1e-4), where the linear z of a small slice
    rejected about 1.4 times as often as it should in a binomial simulation; the log ratio held
    its level. Where a lift is −100% or below (a mean that can be negative), the linear z is used."""
    lift, se, other_lift, other_se = (np.asarray(v, dtype=float) for v in (lift, se, other_lift, other_se))
    on_log = (lift > -1) & (other_lift > -1)
    a, b = np.where(on_log, 1 + lift, 1.0), np.where(on_log, 1 + other_lift, 1.0)
    z_log = (np.log(a) - np.log(b)) / np.hypot(se / a, other_se / b)
    z_linear = (lift - other_lift) / np.hypot(se, other_se)
    return 2 * sps.norm.sf(np.abs(np.where(on_log, z_log, z_linear)))


def _scan(slices: Sequence[SliceStats], control: SufficientStats, treatment: SufficientStats, min_users: int,
          alpha: float) -> tuple[Any, list[dict[str, Any]], list[str]]:
    """The overall comparison, the testable slices' lifts and p-values, and the skipped slices."""
    overall = compare(control, treatment, cuped=False, alpha=alpha, min_events=0)
    pending: list[dict[str, Any]] = []
    skipped: list[str] = []
    for s in slices:
        c, t = _plain(s.control), _plain(s.treatment)
        if min(c.n, t.n) < min_users:
            skipped.append(f"{s.label}: fewer than {min_users} users in an arm")
            continue
        r = compare(c, t, cuped=False, alpha=alpha, min_events=0)
        rest = compare(subtract(control, c), subtract(treatment, t), cuped=False, min_events=0)
        if r.rel_lift is None or r.rel_se is None or not r.rel_se > 0:
            skipped.append(f"{s.label}: the lift has no standard error")
            continue
        p = None
        if rest.rel_lift is not None and rest.rel_se is not None:
            p = float(difference_p_value(r.rel_lift, r.rel_se, rest.rel_lift, rest.rel_se))
        pending.append(dict(
            dimensions=s.dimensions, values=s.values, label=s.label, n_control=c.n, n_treatment=t.n,
            weight=c.sum_y / control.sum_y if control.sum_y else 0.0, user_level=s.user_level,
            control_value=r.control_value, rel_lift=r.rel_lift, rel_se=r.rel_se, rel_ci_low=r.rel_ci_low,
            rel_ci_high=r.rel_ci_high, p_vs_rest=p))
    return overall, pending, skipped


def _finish(overall: Any, pending: list[dict[str, Any]], qs: list[float | None], skipped: list[str],
            min_users: int, alpha: float) -> Exploration:
    """Shrinkage and Cochran's Q per dimension (partition), ranks by shrunk lift."""
    mu = overall.rel_lift
    tests: list[DimensionTest] = []
    shrunk: dict[int, tuple[float, float]] = {}
    for dims in dict.fromkeys(row["dimensions"] for row in pending):
        idx = [i for i, row in enumerate(pending) if row["dimensions"] == dims]
        est = np.array([pending[i]["rel_lift"] for i in idx])
        se = np.array([pending[i]["rel_se"] for i in idx])
        tau2, q = tau2_moments(est, se)
        if len(idx) > 1:
            tests.append(DimensionTest(dims, q, len(idx) - 1, float(sps.chi2.sf(q, len(idx) - 1)), tau2, len(idx)))
        if mu is None:
            continue
        b = tau2 / (tau2 + se**2)
        for i, e, s2, bi in zip(idx, est, se**2, b, strict=True):
            shrunk[i] = (float(mu + bi * (e - mu)), float(math.sqrt(bi * s2)))
    rows = [SliceRow(**row, q_value=qv, significant=qv is not None and qv < alpha,
                     shrunk_lift=shrunk.get(i, (None, None))[0], shrunk_se=shrunk.get(i, (None, None))[1])
            for i, (row, qv) in enumerate(zip(pending, qs, strict=True))]
    def key(i: int) -> float:
        v = rows[i].shrunk_lift
        return -v if v is not None else math.inf

    order = sorted(range(len(rows)), key=key)
    for rank, i in enumerate(order, 1):
        rows[i] = replace(rows[i], rank=rank)
    return Exploration(mu, overall.rel_se, rows, tests, alpha, min_users, skipped=skipped)


Comparison = tuple[Sequence[SliceStats], SufficientStats, SufficientStats]


def _family_sidak(pending: list[dict[str, Any]]) -> dict[tuple[str, ...], float]:
    """Each dimension's (or crossed pair's) family p-value: Šidák's 1 − (1 − min p)ᵏ over its k slices.

    Valid whatever the correlation of the slices' two-sided z tests (Šidák 1967), and slice-versus-
    rest tests within a partition are negatively correlated, which is exactly where Simes' test
    (the smallest BH-adjusted p) is not guaranteed: it called some slice in 5.3% of seeded
    no-heterogeneity runs at 5%."""
    out: dict[tuple[str, ...], float] = {}
    for dims in dict.fromkeys(row["dimensions"] for row in pending):
        ps = [row["p_vs_rest"] for row in pending if row["dimensions"] == dims and row["p_vs_rest"] is not None]
        out[dims] = float(-math.expm1(len(ps) * math.log1p(-min(ps)))) if ps and min(ps) < 1 else 1.0
    return out


def explore_arms(comparisons: dict[str, Comparison], *, min_users: int = 200,
                 alpha: float = 0.05) -> dict[str, Exploration]:
    """Explore several treatment arms (each ``(slices, control sums, treatment sums)`` over all users),
    controlling errors over everything the PM scans: every arm's dimensions and their slices.

    Hierarchical (Benjamini–Bogomolov 2014): the families are (arm, dimension); a family is
    selected when its Šidák p-value is below alpha/m (Bonferroni over the m families), R of m
    are selected, and within each selected family the slices' p-values go through BH at
    alpha·R/m. With no heterogeneity anywhere, some slice is called only if some family is
    selected, which has probability at most m · alpha/m = alpha whatever the dependence between
    families (shared control, overlapping dimensions) — the family-wise guarantee a PM scanning
    the table needs. A flat BH over all slices did not hold it (7% of seeded no-heterogeneity
    runs called some slice), nor did a Simes gate (5.3%); Cochran's Q as the gate held it but lost
    power to one strongly responding slice among 12 (tests/abkit/stats/
    test_stats_heterogeneity_simulation.py states the designs and figures).
    ``q_value`` is the within-family BH-adjusted p scaled by m/R (at least the family's own
    Bonferroni-adjusted p for unselected families), so ``significant`` is exactly ``q_value < alpha``."""
    scans = {arm: _scan(sl, _plain(c), _plain(t), min_users, alpha) for arm, (sl, c, t) in comparisons.items()}
    fam_p = {(arm, dims): p for arm, (_, pending, _) in scans.items() for dims, p in _family_sidak(pending).items()}
    keys = list(fam_p)
    fam_q = {k: min(1.0, p * len(keys)) for k, p in fam_p.items()}
    selected = {k for k, v in fam_q.items() if v < alpha}
    scale = len(keys) / max(len(selected), 1)
    out: dict[str, Exploration] = {}
    for arm, (overall, pending, skipped) in scans.items():
        qs: list[float | None] = [None] * len(pending)
        for dims in dict.fromkeys(row["dimensions"] for row in pending):
            idx = [i for i, row in enumerate(pending) if row["dimensions"] == dims]
            within = adjust_pvalues([pending[i]["p_vs_rest"] for i in idx], "bh")
            fq = fam_q[(arm, dims)]
            for i, w in zip(idx, within, strict=True):
                if w is not None:
                    qs[i] = min(1.0, w * scale) if (arm, dims) in selected else max(fq, min(1.0, w * scale))
        out[arm] = _finish(overall, pending, qs, skipped, min_users, alpha)
    return out


def explore(slices: Sequence[SliceStats], control: SufficientStats, treatment: SufficientStats, *,
            min_users: int = 200, alpha: float = 0.05) -> Exploration:
    """Scan ``slices`` against the whole experiment (``control``/``treatment``: all users' sums).

    Slices with fewer than ``min_users`` users in either arm, or without a relative lift, are
    listed with a note and are neither tested nor counted in the FDR family."""
    return explore_arms({"": (slices, control, treatment)}, min_users=min_users, alpha=alpha)[""]

"""The heterogeneity block: slice sums in the engine, the explorer and the policy on them.

For a spec with ``heterogeneity:``, every slice of one user attribute and of each crossed pair is
summed per arm in SQL (experiments/analysis/sql/slice_stats.sql over the user-attributes table),
then abkit.stats.heterogeneity explores every treatment arm against the control with one FDR
family, and abkit.stats.policy recommends an arm per segment of ``policy_dimension``. User-level
attributes only: every user is in exactly one slice of a dimension (item-level dimensions such as
category would split exposures and need user-clustered variances; they are not offered here).
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import pandas as pd

from abkit.metrics import METRICS
from abkit.spec import Spec
from abkit.stats.heterogeneity import EXPLORATORY, Comparison, SliceStats, explore_arms
from abkit.stats.policy import recommend
from abkit.stats.types import SufficientStats
from experiments.analysis import queries as q
from experiments.analysis.covariates import ATTRIBUTES_TABLE, user_attributes
from experiments.analysis.engines.base import Engine

MISSING = "(missing)"


def slice_query(spec: Spec, attrs: tuple[int, ...]) -> q.Query:
    """Per arm and slice of the attributes ``a<i>`` (missing values as their own slice), the primary metric's sums."""
    m = METRICS[spec.primary_metric]
    ratio = m.denominator is not None
    sql = q.render(q.load_sql("slice_stats"), {
        "group_columns": "".join(f", a{int(i)}" for i in attrs),
        "group_values": "".join(f", COALESCE(a{int(i)}, '{MISSING}') AS a{int(i)}" for i in attrs),
        "attributes": ATTRIBUTES_TABLE,
        "y": f"CAST({q._column(m.numerator)} AS DOUBLE)",
        "d_column": f", CAST({q._column(m.denominator)} AS DOUBLE) AS d" if m.denominator else "",
        "ratio_sums": ",\n    sum(d) AS sum_d, sum(d * d) AS sum_d2, sum(y * d) AS sum_yd" if ratio else ""})
    return q._bind("slice_stats", sql, {})


def _stats(rec: dict[str, Any]) -> SufficientStats:
    ratio = "sum_d" in rec
    return SufficientStats(int(rec["n"]), float(rec["sum_y"] or 0.0), float(rec["sum_y2"] or 0.0),
                           float(rec["sum_d"] or 0.0) if ratio else None, float(rec["sum_d2"] or 0.0) if ratio else None,
                           float(rec["sum_yd"] or 0.0) if ratio else None)


def _add(a: SufficientStats | None, b: SufficientStats) -> SufficientStats:
    if a is None:
        return b
    return SufficientStats(a.n + b.n, a.sum_y + b.sum_y, a.sum_y2 + b.sum_y2,
                           *(None if getattr(a, k) is None else getattr(a, k) + getattr(b, k)
                             for k in ("sum_d", "sum_d2", "sum_yd")))


def heterogeneity_block(spec: Spec, engine: Engine, rel: q.Relations, notes: list[str]) -> dict[str, Any]:
    """{"heterogeneity": explorer per treatment arm, "policy": the per-segment policy} (the per-user table must exist)."""
    assert spec.heterogeneity is not None
    h = spec.heterogeneity
    dims = h.dimensions
    m = METRICS[spec.primary_metric]
    engine.materialize(user_attributes(dims, [], [c for c in (m.numerator, m.denominator) if c], rel),
                       ATTRIBUTES_TABLE)
    try:
        groups = [(i,) for i in range(len(dims))] + list(combinations(range(len(dims)), 2))
        frames = {g: engine.frame(slice_query(spec, g)) for g in groups}
    finally:
        engine.drop(ATTRIBUTES_TABLE)
    for i, name in enumerate(dims):
        values = set(frames[(i,)][f"a{i}"].astype(str))
        if values == {MISSING}:
            notes.append(f"Heterogeneity: no user has a value for {name!r} (a users-table attribute: segment or a "
                         f"key of its extra columns), so its only slice is {MISSING!r}.")
    totals: dict[str, SufficientStats | None] = dict.fromkeys(spec.arm_names)
    for rec in frames[(0,)].to_dict("records"):
        if rec["arm"] in totals:
            totals[rec["arm"]] = _add(totals[rec["arm"]], _stats(rec))
    control = totals[spec.control_arm]
    comparisons: dict[str, Comparison] = {}
    for arm in spec.treatment_arms:
        treat = totals[arm]
        if control is None or treat is None:
            continue
        slices = []
        for g, frame in frames.items():
            slices += _slices(frame, g, dims, spec.control_arm, arm)
        comparisons[arm] = (slices, control, treat)
    explored = explore_arms(comparisons, min_users=h.min_users, alpha=spec.alpha)
    policy = recommend(explored, control=spec.control_arm, dimension=h.policy_on, metric=spec.primary_metric)
    return {"heterogeneity": {"metric": spec.primary_metric, "dimensions": dims, "note": EXPLORATORY,
                              "arms": {a: e.to_dict() for a, e in explored.items()}},
            "policy": policy.to_dict()}


def _slices(frame: pd.DataFrame, g: tuple[int, ...], dims: list[str], control: str, arm: str) -> list[SliceStats]:
    cols = [f"a{i}" for i in g]
    by_key: dict[tuple[str, ...], dict[str, SufficientStats]] = {}
    for rec in frame.to_dict("records"):
        by_key.setdefault(tuple(str(rec[c]) for c in cols), {})[str(rec["arm"])] = _stats(rec)
    out = []
    for key, arms in sorted(by_key.items()):
        if control in arms and arm in arms:
            out.append(SliceStats(tuple(dims[i] for i in g), key, arms[control], arms[arm]))
    return out

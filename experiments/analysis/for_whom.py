"""Analysis steps of issue 14, each optional and none able to fail the analysis:

- regression adjustment's cross-products (spec ``covariates:``), handed to the metric rows;
- the heterogeneity explorer and per-segment policy (spec ``heterogeneity:``);
- interaction with concurrent experiments that share users (always, when any do), for health.

They read the per-user table, so analyze calls them before dropping it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from abkit.metrics import METRICS
from abkit.spec import Spec
from abkit.stats.interaction import interaction
from experiments.analysis import queries as q
from experiments.analysis.covariates import covariate_cross_products
from experiments.analysis.engines.base import Engine
from experiments.analysis.explorer import _stats, heterogeneity_block
from experiments.analysis.rows import CrossSums

T = TypeVar("T")


def _guard(name: str, notes: list[str], step: Callable[[], T]) -> T | None:
    try:
        return step()
    except Exception as exc:  # an optional step must never cost the analysis
        notes.append(f"The {name} could not be computed ({type(exc).__name__}: {exc}).")
        warnings.warn(f"{name} failed: {exc!r}", stacklevel=2)
        return None


def regression_sums(spec: Spec, engine: Engine, rel: q.Relations, caps: dict[str, float],
                    notes: list[str]) -> CrossSums | None:
    if spec.covariates is None:
        return None
    out = _guard("regression adjustment", notes, lambda: covariate_cross_products(spec, engine, rel, caps))
    if out is None:
        notes.append("Metric rows fall back to single-covariate CUPED.")
    return out


def explorer_blocks(spec: Spec, engine: Engine, rel: q.Relations, notes: list[str]) -> dict[str, Any]:
    if spec.heterogeneity is None:
        return {}
    return _guard("heterogeneity explorer", notes, lambda: heterogeneity_block(spec, engine, rel, notes)) or {}


def interaction_query(spec: Spec, params: q.QueryParams, rel: q.Relations) -> q.Query:
    m = METRICS[spec.primary_metric]
    sql = q.render(q.load_sql("interaction_stats"), {
        "exposures": rel.exposures, "per_user": rel.per_user, "as_of_filter": q.exposure_as_of(params),
        "y": f"CAST({q._column(m.numerator)} AS DOUBLE)",
        "d_column": f", CAST({q._column(m.denominator)} AS DOUBLE) AS d" if m.denominator else "",
        "ratio_sums": ",\n    sum(p.d) AS sum_d, sum(p.d * p.d) AS sum_d2, sum(p.y * p.d) AS sum_yd"
        if m.denominator else ""})
    return q._bind("interaction_stats", sql, params.values())


def interactions(spec: Spec, engine: Engine, params: q.QueryParams, rel: q.Relations) -> list[dict[str, Any]]:
    """One result per (other experiment, treatment arm) sharing users with this one (χ² and interaction test)."""
    frame = engine.frame(interaction_query(spec, params, rel))
    out = []
    for other, g in frame.groupby("experiment", sort=True):
        cells = {(str(r["arm"]), str(r["other_arm"])): _stats(r) for r in g.to_dict("records")}
        for arm in spec.treatment_arms:
            res = interaction({k: v for k, v in cells.items() if k[0] in (spec.control_arm, arm)},
                              experiment=spec.key, other=str(other), control=spec.control_arm, treatment=arm)
            out.append({**res.to_dict(), "arm": arm, "metric": spec.primary_metric})
    return out


def interaction_block(spec: Spec, engine: Engine, params: q.QueryParams, rel: q.Relations,
                      notes: list[str]) -> list[dict[str, Any]] | None:
    if params.experiment is None:
        return None
    return _guard("interaction check", notes, lambda: interactions(spec, engine, params, rel))

"""Stages 1–3 of the analysis SQL: who was seen, one row per user, per-arm (× dimension) sums.

Everything here runs in the engine; only the small per-arm frames come back (:class:`StageFrames`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd

from abkit.errors import AbkitError
from abkit.metrics import METRICS
from abkit.spec import Spec
from experiments.analysis import queries as q
from experiments.analysis.engines.base import Engine
from experiments.analysis.engines.duckdb_engine import DuckDBEngine

_DIMENSION = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class AnalysisError(AbkitError):
    """A problem with what was asked of the analysis (e.g. an unknown dimension)."""


def dimensions(spec: Spec, extra: Sequence[str]) -> tuple[str, ...]:
    """The spec's dimensions and the extra ones, each a plain column name."""
    dims = tuple(dict.fromkeys([*spec.dimensions, *extra]))
    for d in dims:
        if not _DIMENSION.match(d):
            raise AnalysisError(f"dimension {d!r} is not a column name (letters, digits, _)")
    return dims


def query_params(spec: Spec, *, as_of: dt.datetime | None = None, dimensions_: Sequence[str] = (),
                 attribution: q.Attribution = "join", as_of_ingested: bool = True) -> q.QueryParams:
    params = q.QueryParams.from_spec(spec, as_of=as_of, dimensions=dimensions(spec, dimensions_),
                                     attribution=attribution)
    return params if as_of_ingested else dataclasses.replace(params, as_of_ingested=False)


def materialize_per_user(engine: Engine, params: q.QueryParams, rel: q.Relations, *, texts: bool = True) -> None:
    """Stages 1 and 2 as temp relations; the blocks and stage 3 read only these (never re-attribute):

    - ``rel.seen``       (user_id, arm, exposures, first_exposure, last_exposure, dim_<i>...): one row
                         per (user, arm) with window exposures (multi-arm users have several rows)
    - ``rel.excluded``   (user_id, n_arms, total_exposures): seen users left out (multi-arm, bot
                         filter); every other seen user is an analysis user, so their exposures are
                         the window exposures anti-joined with this small table
    - ``rel.attributed`` (event_id, user_id, arm, item_id, type, order_id, revenue, anchor_ts,
                         anchor_reason_id): each attributed click/cart/order of an analysis user once,
                         with the exposure that anchors it (latest same-item exposure at or before it)
    - ``rel.per_user``   one row per analysis user: arm, the PER_USER_COLUMNS of queries.py,
                         first_exposure, last_exposure, window_open, dim_<i>...
    - ``rel.user_texts`` (user_id, arm, reason_id, item_id, exposures, segment): analysis users' exposures
                         showing a reason, per (user, reason, item); only with ``texts``

    Stage 3 (per-arm sums, counts) and every block read these; an incremental refresh that keeps
    them up to date keeps every block right.
    """
    engine.materialize(q.seen_users(params, rel), rel.seen)
    engine.materialize(q.excluded_users(params, rel), rel.excluded)
    engine.materialize(q.attributed_events(params, rel), rel.attributed)
    engine.materialize(q.per_user(params, rel, staged=True), rel.per_user)
    if texts:
        engine.materialize(q.user_texts(params, rel), rel.user_texts)


def drop_per_user(engine: Engine, rel: q.Relations) -> None:
    for name in rel.stage_tables:
        engine.drop(name)


def build_per_user(spec: Spec, con: duckdb.DuckDBPyConnection, *, as_of: dt.datetime | None = None,
                   dimensions: Sequence[str] = (), attribution: q.Attribution = "join",
                   rel: q.Relations = q.DEFAULT_RELATIONS) -> q.QueryParams:
    """Materialize stages 1 and 2 on a DuckDB connection (tests, benchmarks, the blocks on their own)."""
    params = query_params(spec, as_of=as_of, dimensions_=dimensions, attribution=attribution)
    materialize_per_user(DuckDBEngine(con), params, rel)
    return params


def per_user_frame(spec: Spec, con: duckdb.DuckDBPyConnection, **kwargs: Any) -> pd.DataFrame:
    """The per-user table as a DataFrame (tests and small exports; analyze never does this)."""
    rel = kwargs.pop("rel", q.DEFAULT_RELATIONS)
    build_per_user(spec, con, rel=rel, **kwargs)
    return con.execute(f"SELECT * FROM {rel.per_user} ORDER BY user_id").df()


@dataclass(frozen=True)
class StageFrames:
    """What the SQL stages hand to the statistics: small frames of per-arm sums and counts."""

    layout: q.StatsLayout
    caps: dict[str, float]
    overall: pd.DataFrame  # per arm
    by_dimension: dict[str, pd.DataFrame]  # per (arm, dim_i)
    counts: pd.DataFrame  # exposures / users / bots per assigned arm, before exclusion
    multi_arm_users: int


def winsorize_caps(spec: Spec, engine: Engine, rel: q.Relations) -> dict[str, float]:
    """Per-column caps of the mean metrics' numerators at the spec's percentile (empty when off)."""
    if not spec.winsorize:
        return {}
    cols = sorted({METRICS[m].numerator for m in spec.all_metrics
                   if METRICS[m].kind == "mean" and METRICS[m].numerator in q.WINSORIZABLE})
    if not cols:
        return {}
    capped = engine.frame(q.winsorize_caps(cols, spec.winsorize, rel)).iloc[0]
    return {c: float(capped[c]) for c in cols if pd.notna(capped[c])}


def stage_frames(spec: Spec, engine: Engine, params: q.QueryParams, rel: q.Relations) -> StageFrames:
    """Stage 3 over the materialized per-user table: counts, caps and per-arm (× dimension) sums."""
    counts = engine.frame(q.arm_counts(params, rel))
    multi = int(engine.frame(q.multi_arm_users(rel)).iloc[0, 0])
    caps = winsorize_caps(spec, engine, rel)
    layout = q.stats_layout(spec.all_metrics, caps)
    n = len(params.dimensions)
    if n:  # the per-arm and the per-dimension sums in one read of the per-user table
        overall, parts = q.split_arm_stats(engine.frame(q.arm_stats_sets(layout, n, rel)), n)
    else:
        overall, parts = engine.frame(q.arm_stats(layout, rel=rel)), []
    by_dimension = dict(zip(params.dimensions, parts, strict=True))
    for name, frame in by_dimension.items():
        if not frame.empty and frame.iloc[:, 1].isna().all():
            raise AnalysisError(f"dimension {name!r} was not found: no exposure has an extra column "
                                f"{name!r} and the users table has no such value")
    return StageFrames(layout, caps, overall, by_dimension, counts, multi)

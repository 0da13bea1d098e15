"""What an analysis reads from the incremental state (experiments/analysis/incremental.py, whose
``State`` keeps it up to date): the stage tables of stages.materialize_per_user derived from the
state alone, the daily block, the text blocks with the stored feature levels, and the other
experiments' arms for the interaction check."""

from __future__ import annotations

import dataclasses
import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import duckdb
import pandas as pd

from abkit.spec import Spec
from abkit.warehouse import check_identifier
from experiments.analysis import queries as q
from experiments.analysis.block_sql import local_ts
from experiments.analysis.daily import daily_rows
from experiments.analysis.engines.base import Engine
from experiments.analysis.incremental_features import CachedFeatures, start_text_work
from experiments.analysis.stages import AnalysisError
from experiments.analysis.text_work import TextWork

PARTS = ("seen", "multi", "user_days", "events", "refunds", "days", "others", "texts", "features",
         "features_meta", "meta")
OTHER_ARMS = "abkit_incr_other_arms"  # a view: what interaction_stats.sql reads instead of the exposures


def state_tables(experiment: str) -> dict[str, str]:
    """The state's table names (the key is [a-z0-9_]+, checked again here)."""
    return {part: check_identifier(f"abkit_state_{experiment}_{part}") for part in PARTS}


def render_sql(name: str, slots: dict[str, str]) -> str:
    """experiments/analysis/sql/<name>.sql with its slots filled."""
    return q.render(q.load_sql(name), slots)


class StateReader:
    """One experiment's state tables, read (the stage tables an analysis runs on)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, spec: Spec, params: q.QueryParams, rel: q.Relations) -> None:
        self.con, self.spec, self.params, self.rel = con, spec, params, rel
        self.t = state_tables(spec.key)
        self.values = {**params.values(), "timezone": spec.timezone}
        self.dims = range(len(params.dimensions))
        self.timings: list[tuple[str, float]] = []
        self.users_mark: dt.datetime | None = None  # the users rows the stored segments include (stored())
        # the users' id type: VARCHAR, or the integer key where ``rel`` reads the keyed views
        # (experiments/analysis/keyed.py; the relations are in the spec hash, so a switch rebuilds)
        self.user_type = str(con.sql(f"SELECT user_id FROM {rel.exposures}").types[0])
        if self.user_type not in ("VARCHAR", "INTEGER", "BIGINT"):
            raise AnalysisError(f"user_id of {rel.exposures} is {self.user_type}, not a string id or an integer key")

    # --- what analyze reads -------------------------------------------------------------------

    def materialize(self, engine: Engine, *, texts: bool = True) -> None:
        """The stage tables of stages.materialize_per_user (``rel.seen`` as a view of the state,
        ``rel.excluded``, ``rel.attributed``, ``rel.per_user``, ``rel.user_texts``) as the full path
        makes them, from the state alone: every block reads them unchanged."""
        p, rel = self.params, self.rel
        dims = "".join(f", dim_{i}" for i in self.dims)
        engine.view(q.Query("seen_state", f"SELECT user_id, arm, exposures, first_exposure, last_exposure{dims} "
                                          f"FROM {self.t['seen']}"), rel.seen)
        bots = ("\nUNION ALL\nSELECT user_id, CAST(1 AS BIGINT), CAST(exposures AS HUGEINT) FROM "
                f"{rel.seen} ANTI JOIN {self.t['multi']} m USING (user_id) WHERE exposures > $max_exposures"
                if p.max_exposures is not None else "")
        excluded = render_sql("incremental_excluded", {"seen": rel.seen, "multi_state": self.t["multi"], "bots": bots})
        engine.materialize(q._bind("excluded_state", excluded, self.values), rel.excluded)
        attributed = render_sql("incremental_attributed", {"events_state": self.t["events"], "excluded": rel.excluded})
        engine.materialize(q._bind("attributed_state", attributed, self.values), rel.attributed)
        # the segment dimension reads the stored segment instead of joining the users' (every user's)
        select, joins = q.user_dimensions(p.dimensions, rel.users, segment="u.segment")
        sql = render_sql("incremental_per_user", {
            "seen_state": self.t["seen"], "excluded": rel.excluded,
            "attributed": rel.attributed, "refunds_state": self.t["refunds"],
            "dimension_select": select,
            "dimension_joins": joins,
        })
        engine.materialize(q._bind("per_user_state", sql, self.values), rel.per_user)
        if texts:
            engine.materialize(q.Query("user_texts_state", f"""
                SELECT t.user_id, t.arm, t.reason_id, t.item_id, t.exposures, t.segment FROM {self.t['texts']} t
                WHERE NOT EXISTS (SELECT 1 FROM {rel.excluded} ex WHERE ex.user_id = t.user_id)"""), rel.user_texts)
        engine.view(q.Query("other_arms", f"""
            SELECT user_id, experiment, min_arm AS arm, first_ts AS ts FROM {self.t['others']}
            UNION ALL
            SELECT user_id, experiment, max_arm AS arm, first_ts AS ts FROM {self.t['others']} WHERE max_arm <> min_arm
            """), OTHER_ARMS)

    def daily_frame(self, engine: Engine) -> pd.DataFrame:
        """daily_stats.sql's frame, from the state and the stage tables (after :meth:`materialize`)."""
        sql = render_sql("incremental_daily", {
            "per_user": self.rel.per_user, "user_days_state": self.t["user_days"], "excluded": self.rel.excluded,
            "days_state": self.t["days"], "attributed": self.rel.attributed,
            "local_first": local_ts("f.minute", "duckdb"), "local_event": local_ts("v.minute", "duckdb"),
        })
        return engine.frame(q._bind("daily_state", sql, self.values))

    def daily_block(self, spec: Spec, engine: Engine, params: q.QueryParams, rel: q.Relations) -> list[dict[str, Any]]:
        """The ``daily`` block (experiments/analysis/blocks.py's signature), from the state."""
        return daily_rows(self.daily_frame(engine), spec.arm_names)

    def block_overrides(self) -> dict[str, Any]:
        """Blocks computed from the state instead of their own SQL (blocks.analysis_blocks' ``overrides``)."""
        return {"daily": self.daily_block}

    def start_text_work(self, spec: Spec, engine: Engine, params: q.QueryParams, pool: ThreadPoolExecutor) -> TextWork:
        """The text blocks' work (text_work.start_text_work) with the stored text-feature levels."""
        cached = CachedFeatures(self.con, self.t["features"], self.t["features_meta"])
        return start_text_work(spec, engine, params, self.rel, pool, cached)

    def drop_views(self, engine: Engine) -> None:
        """The helper relations :meth:`materialize` made besides the stage tables."""
        engine.drop(OTHER_ARMS)

    def interaction_relations(self) -> q.Relations:
        """Relations for interaction_stats.sql: the other experiments' arms from the state, not the exposures."""
        return dataclasses.replace(self.rel, exposures=OTHER_ARMS)

"""The ``text_features`` block of an incremental refresh: the feature levels of each (reason, item,
viewer segment, text) key are kept in the experiment's state, so a refresh computes them (the
Python part of experiments/analysis/text_behaviour.py) only for the keys the new day added.

The levels of a key depend on its text, item and segment and on the catalog rows the checker is
built from (the items of every key, text_behaviour's ``_catalog``): the stored levels are reused
only while that catalog is unchanged (its digest is stored beside them); any change in it, or a
changed text of a reason (the text is part of the key), recomputes what it touches. Everything
else (the per-user counts, the statistics) is text_behaviour's own SQL and code.

:func:`start_text_work` is text_work.start_text_work for a refresh: the same summed user texts
(text_shown.sql) feed the text metrics (scored in the worker), the samples and the feature keys,
and the levels come from the stored ones instead of scoring every key again.
"""

from __future__ import annotations

import dataclasses
import hashlib
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import duckdb
import pandas as pd

from abkit.spec import Spec
from abkit.text.scoring import PARALLEL_MIN
from experiments.analysis import queries as q
from experiments.analysis.block_sql import block_query
from experiments.analysis.engines.base import Engine
from experiments.analysis.text_behaviour import FEATURES, feature_inputs, feature_table
from experiments.analysis.text_metrics import diversity_of, exposed_inputs
from experiments.analysis.text_work import TextWork, _now

KEY = ("reason_id", "item_id", "segment", "text")
CACHE_VERSION = 1  # bump when the features' definition changes: every stored level is recomputed
_KEYS_FRAME = "abkit_incr_feature_keys"


def cache_columns() -> str:
    """The columns of the state's features table."""
    return ", ".join(f"{c} VARCHAR" for c in (*KEY, *FEATURES))


def catalog_digest(catalog: pd.DataFrame) -> str:
    """A digest of the catalog rows the features were computed with (and of the features' version)."""
    rows = catalog.sort_values("item_id").astype(str).to_csv(index=False)
    return hashlib.sha256(f"{CACHE_VERSION}|{','.join(FEATURES)}|{rows}".encode()).hexdigest()


class CachedFeatures:
    """The text_features block with its levels stored in ``table`` (digest in ``meta``)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, table: str, meta: str) -> None:
        self.con, self.table, self.meta = con, table, meta

    def levels(self, keys: pd.DataFrame, catalog: pd.DataFrame) -> pd.DataFrame:
        """The feature levels of every key (reason_id, item_id, segment, text), new keys computed and stored."""
        digest = catalog_digest(catalog)
        stored = self.con.execute(f"SELECT max(digest) FROM {self.meta}").fetchall()[0][0]
        if stored != digest:  # another catalog: nothing stored still holds
            self.con.execute(f"DELETE FROM {self.table}")
        self.con.register(_KEYS_FRAME, keys[list(KEY)])
        try:
            match = f"""FROM {_KEYS_FRAME} k LEFT JOIN {self.table} c
                ON c.reason_id = k.reason_id AND c.item_id = k.item_id AND c.text = k.text
               AND c.segment IS NOT DISTINCT FROM k.segment"""
            new = self.con.execute(f"SELECT k.* {match} WHERE c.reason_id IS NULL").df()
            if not new.empty:
                fresh = feature_table(new, catalog)  # one row per key, in the keys' order
                fresh["text"] = new["text"].to_numpy()
                self.con.register("abkit_incr_fresh_features", fresh[[*KEY, *FEATURES]])
                try:
                    self.con.execute(f"INSERT INTO {self.table} SELECT * FROM abkit_incr_fresh_features")
                finally:
                    self.con.unregister("abkit_incr_fresh_features")
            self.con.execute(f"DELETE FROM {self.meta}")
            self.con.execute(f"INSERT INTO {self.meta} VALUES (?)", [digest])
            cols = ", ".join(f"c.{c}" for c in ("reason_id", "item_id", "segment", *FEATURES))
            return self.con.execute(f"SELECT {cols} {match}").df().astype("string")
        finally:
            self.con.unregister(_KEYS_FRAME)


def start_text_work(spec: Spec, engine: Engine, params: q.QueryParams, rel: q.Relations,
                    pool: ThreadPoolExecutor, cached: CachedFeatures) -> TextWork:
    """text_work.start_text_work with the levels of ``cached`` (looked up here, on the engine's
    thread: they read the state); the text metrics' Python runs in ``pool`` as there."""
    shown = dataclasses.replace(rel, user_texts=f"{rel.user_texts}_shown")
    engine.materialize(block_query("text_shown", params, rel, engine=engine.name), shown.user_texts)
    try:
        exposed = exposed_inputs(engine, params, shown)
        run = pool.submit if exposed is None or len(exposed[0]) < PARALLEL_MIN else _now
        diversity: Future[dict[str, dict[str, Any]]] = _now(dict) if exposed is None else run(diversity_of, spec,
                                                                                              *exposed)
    except Exception:
        engine.drop(shown.user_texts)
        raise
    features = _now(feature_inputs, engine, params, shown)  # a failure: the text_features block's note
    levels = features if features.exception() else _now(lambda f: None if f is None else cached.levels(*f),
                                                         features.result())
    return TextWork(diversity, levels, shown)

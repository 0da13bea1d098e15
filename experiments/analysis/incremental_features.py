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
and the levels come from the stored ones instead of scoring every key again; the keys a refresh adds
take their scores from the text metrics' scoring pass in the worker (text_work.score_shown).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import duckdb
import pandas as pd

from abkit.spec import Spec
from abkit.text.scoring import PARALLEL_MIN
from abkit.text.shared_scores import SharedScores
from experiments.analysis import queries as q
from experiments.analysis.engines.base import Engine
from experiments.analysis.text_behaviour import FEATURES, feature_table
from experiments.analysis.text_metrics import diversity_of
from experiments.analysis.text_work import TextWork, _now, fetch_inputs, score_shown

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
        new, digest = self.new_keys(keys, catalog)
        return self.stored(keys, new, None if new.empty else feature_table(new, catalog), digest)

    def new_keys(self, keys: pd.DataFrame, catalog: pd.DataFrame) -> tuple[pd.DataFrame, str]:
        """(the keys without stored levels, the catalog's digest); another catalog than the stored levels'
        drops them all first."""
        digest = catalog_digest(catalog)
        stored = self.con.execute(f"SELECT max(digest) FROM {self.meta}").fetchall()[0][0]
        if stored != digest:  # another catalog: nothing stored still holds
            self.con.execute(f"DELETE FROM {self.table}")
        return self._with_keys(keys, lambda match: self.con.execute(f"SELECT k.* {match} WHERE c.reason_id IS NULL")
                               .df()), digest

    def stored(self, keys: pd.DataFrame, new: pd.DataFrame, fresh: pd.DataFrame | None, digest: str) -> pd.DataFrame:
        """Store ``fresh`` (feature_table of the ``new`` keys, one row per key in their order) and the digest;
        the levels of every key."""
        if fresh is not None:
            fresh = fresh.assign(text=new["text"].to_numpy())
            self.con.register("abkit_incr_fresh_features", fresh[[*KEY, *FEATURES]])
            try:
                self.con.execute(f"INSERT INTO {self.table} SELECT * FROM abkit_incr_fresh_features")
            finally:
                self.con.unregister("abkit_incr_fresh_features")
        self.con.execute(f"DELETE FROM {self.meta}")
        self.con.execute(f"INSERT INTO {self.meta} VALUES (?)", [digest])
        cols = ", ".join(f"c.{c}" for c in ("reason_id", "item_id", "segment", *FEATURES))
        return self._with_keys(keys, lambda match: self.con.execute(f"SELECT {cols} {match}").df().astype("string"))

    def _with_keys(self, keys: pd.DataFrame, read: Callable[[str], pd.DataFrame]) -> pd.DataFrame:
        """``read`` of the FROM clause that matches the ``keys`` (registered for the call) to the stored levels."""
        self.con.register(_KEYS_FRAME, keys[list(KEY)])
        try:
            return read(f"""FROM {_KEYS_FRAME} k LEFT JOIN {self.table} c
                ON c.reason_id = k.reason_id AND c.item_id = k.item_id AND c.text = k.text
               AND c.segment IS NOT DISTINCT FROM k.segment""")
        finally:
            self.con.unregister(_KEYS_FRAME)


def start_text_work(spec: Spec, engine: Engine, params: q.QueryParams, rel: q.Relations,
                    pool: ThreadPoolExecutor, cached: CachedFeatures) -> TextWork:
    """text_work.start_text_work with the levels of ``cached``: the keys without stored levels are looked up
    here (on the engine's thread: they read the state); their levels are computed in ``pool`` from the text
    metrics' scoring pass (text_work.score_shown), and stored when the text_features block asks for them.
    Without new keys the text metrics score their pairs as on their own (no feature needs the claim lists)."""
    shown, exposed, features, inputs = fetch_inputs(engine, params, rel)
    # a failure: the text_features block's note
    lookup: Future[tuple[pd.DataFrame, str]] | None = None if inputs is None else _now(cached.new_keys, *inputs)
    new = None if lookup is None or lookup.exception() else lookup.result()[0]
    run = pool.submit if exposed is None or len(exposed[0]) < PARALLEL_MIN else _now
    fresh: Future[pd.DataFrame | None] = _now(lambda: None)
    if exposed is None:
        diversity: Future[dict[str, dict[str, Any]]] = _now(dict)
    elif new is None or new.empty:
        diversity = run(diversity_of, spec, *exposed)
    else:
        pairs, items = exposed
        scored: Future[SharedScores] = run(score_shown, exposed, new)
        diversity = run(lambda: diversity_of(spec, pairs, items, scored.result()))
        fresh = run(lambda: feature_table(new, items, scored.result()))

    def levels() -> pd.DataFrame | None:
        if inputs is None or lookup is None:
            return features.result()  # the fetch's failure (raised), or None: the users saw no text
        keys_new, digest = lookup.result()  # the lookup's failure raises here
        return cached.stored(inputs[0], keys_new, fresh.result(), digest)

    return TextWork(diversity, levels, shown)

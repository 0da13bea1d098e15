"""The text blocks' Python beside the engine's SQL.

Scoring the exposed texts (the ``diversity`` block) and the text features' levels are pure Python
(abkit.text) over small frames, seconds of one core while the engine sits idle. Here their inputs
are fetched (SQL, on the calling thread) right after the stage tables and the Python runs in one
worker thread, while the analysis runs the other blocks' SQL (a DuckDB statement releases the GIL).
The same functions run on the same frames, so the results are the same; only the order of the work
changes. The engine is only ever used from the calling thread.

Both blocks score the same distinct (item, text) pairs against the same items: the worker scores them
once (:func:`score_shown`, abkit.text.shared_scores), the catalog parsed and each item's faithfulness
profile built once, and both blocks take their rows from that pass; the features' catalog rows are the
diversity block's (the same items: both read the summed user texts joined to the reasons).

The blocks that need no per-user rows (the text metrics' pairs, the feature keys, the samples) read
the user texts summed over users (text_shown.sql, a small table) instead of each grouping the
per-user rows again.

Where the text metrics would fork scoring processes (abkit.text.scoring.PARALLEL_MIN pairs and
more), everything runs on the calling thread instead: a fork beside a running engine's threads is
asking for a deadlock.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import pandas as pd

from abkit.spec import Spec
from abkit.text.scoring import PARALLEL_MIN
from abkit.text.shared_scores import SharedScores
from experiments.analysis import queries as q
from experiments.analysis.block_sql import block_query
from experiments.analysis.engines.base import Engine
from experiments.analysis.samples import sample_block
from experiments.analysis.text_behaviour import feature_inputs, feature_rows, feature_table, level_stats
from experiments.analysis.text_metrics import diversity_of, exposed_inputs

T = TypeVar("T")


def _now(fn: Callable[..., T], *args: Any) -> Future[T]:
    """``fn(*args)`` run here, as a finished Future (its exception kept for ``result()``)."""
    out: Future[T] = Future()
    try:
        out.set_result(fn(*args))
    except Exception as exc:  # raised again where the caller asks for the result, as a worker's would be
        out.set_exception(exc)
    return out


@dataclass(frozen=True)
class TextWork:
    """The two blocks' Python, running or done, and the summed user texts (``shown.user_texts``)."""

    diversity: Future[dict[str, dict[str, Any]]]
    # the features' levels, asked for on the engine's thread (a failure raises); None: the users saw no text
    levels: Callable[[], pd.DataFrame | None]
    shown: q.Relations  # the analysis' relations with user_texts naming the summed table

    def samples_block(self, spec: Spec, engine: Engine, params: q.QueryParams,
                      rel: q.Relations) -> list[dict[str, Any]]:
        """The ``samples`` block (blocks.analysis_blocks' signature) over the summed user texts."""
        return sample_block(spec, engine, params, self.shown)

    def drop(self, engine: Engine) -> None:
        engine.drop(self.shown.user_texts)

    def features_block(self, spec: Spec, engine: Engine, params: q.QueryParams,
                       rel: q.Relations) -> list[dict[str, Any]]:
        """The ``text_features`` block (blocks.analysis_blocks' signature) from the worker's levels."""
        table = self.levels()
        frame = pd.DataFrame() if table is None else level_stats(engine, params, rel, table)
        return feature_rows(frame, spec.arm_names, spec.alpha)


def score_shown(exposed: tuple[pd.DataFrame, pd.DataFrame], keys: pd.DataFrame | None) -> SharedScores:
    """One scoring pass over the distinct (item, text) pairs of both blocks (the diversity block's pairs and
    the feature keys': the same pairs, both read from the summed user texts), against the exposed items."""
    pairs, items = exposed
    both = pd.concat([pairs[["item_id", "text"]], *([] if keys is None else [keys[["item_id", "text"]]])])
    both = both[both["text"].notna()]
    return SharedScores.score(both["item_id"].astype("string").astype(object).tolist(),
                              both["text"].astype(str).tolist(), items)


Inputs = tuple[pd.DataFrame, pd.DataFrame]


def fetch_inputs(engine: Engine, params: q.QueryParams, rel: q.Relations) -> tuple[
        q.Relations, Inputs | None, Future[Inputs | None], Inputs | None]:
    """On the engine's thread: the summed user texts (``shown.user_texts``, a table the caller drops),
    the diversity block's inputs (None: no exposed text), and the features' fetch as a Future (its
    failure kept for the text_features block's note) with its result, None where it failed."""
    shown = dataclasses.replace(rel, user_texts=f"{rel.user_texts}_shown")
    engine.materialize(block_query("text_shown", params, rel, engine=engine.name), shown.user_texts)
    try:
        exposed = exposed_inputs(engine, params, shown)
    except Exception:
        engine.drop(shown.user_texts)
        raise
    features = _now(feature_inputs, engine, params, shown, None if exposed is None else exposed[1])
    return shown, exposed, features, None if features.exception() else features.result()


def start_text_work(spec: Spec, engine: Engine, params: q.QueryParams, rel: q.Relations,
                    pool: ThreadPoolExecutor) -> TextWork:
    """Fetch both blocks' inputs now and start their Python in ``pool`` (one worker): one scoring pass
    (:func:`score_shown`), then the diversity block and the features' levels from it. The diversity
    block's failures (the pass's included) raise from ``diversity.result()``; the features' (their SQL
    included) from the text_features block, which blocks.analysis_blocks turns into a note, as before.
    The caller drops the summed user texts (:meth:`TextWork.drop`)."""
    shown, exposed, features, inputs = fetch_inputs(engine, params, rel)
    run = pool.submit if exposed is None or len(exposed[0]) < PARALLEL_MIN else _now
    if exposed is None:
        return TextWork(_now(dict), _levels(features, inputs, run, None).result, shown)
    pairs, items = exposed
    scored: Future[SharedScores] = run(score_shown, exposed, None if inputs is None else inputs[0])
    diversity: Future[dict[str, dict[str, Any]]] = run(lambda: diversity_of(spec, pairs, items, scored.result()))
    return TextWork(diversity, _levels(features, inputs, run, scored).result, shown)


def _levels(features: Future[Any], inputs: tuple[pd.DataFrame, pd.DataFrame] | None,
            run: Callable[..., Future[Any]], scored: Future[SharedScores] | None) -> Future[pd.DataFrame | None]:
    """The features' levels from their fetched ``inputs`` (the fetch's failure, or None where the users saw
    no text, passed on), with the shared pass' scores when there is one (``run`` runs it first)."""
    if features.exception() or inputs is None:
        return features
    keys, items = inputs
    return run(lambda: feature_table(keys, items, None if scored is None else scored.result()))

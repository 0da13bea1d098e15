"""The ``diversity`` block: text metrics of the reasons each arm's analysis users saw (abkit.text)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from abkit.spec import Spec
from abkit.text.arm_metrics import arm_text_metrics
from abkit.text.faithfulness import FaithfulnessChecker
from abkit.text.items import items_by_id
from abkit.text.shared_scores import SharedScores
from experiments.analysis import queries as q
from experiments.analysis.engines.base import Engine


def exposed_inputs(engine: Engine, params: q.QueryParams, rel: q.Relations) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """(the exposed (arm, item, text, segment) pairs with exposures, their items' catalog rows), or None
    where no exposed text joined a reason: the engine's part of the block."""
    pairs = engine.frame(q.exposed_texts(params, rel))
    if pairs.empty:
        return None
    engine.register("abkit_exposed_items", pairs[["item_id"]].drop_duplicates().reset_index(drop=True))
    try:
        items = engine.frame(q.Query("exposed_items", f"""
            SELECT i.item_id, min(i.category) AS category, min(i.brand) AS brand, min(i.title) AS title,
                   min(i.price) AS price, min(i.discount) AS discount, min(CAST(i.attributes AS STRING)) AS attributes
            FROM {rel.items} i JOIN abkit_exposed_items e ON e.item_id = i.item_id
            GROUP BY i.item_id"""))
    finally:
        engine.drop("abkit_exposed_items")
    return pairs, items


def diversity_of(spec: Spec, pairs: pd.DataFrame, items: pd.DataFrame,
                 shared: SharedScores | None = None) -> dict[str, dict[str, Any]]:
    """The block from :func:`exposed_inputs`' frames (Python only: experiments/analysis/text_work.py runs it
    beside the engine's other work). ``shared``: every arm's pairs already scored against ``items``."""
    counts = pairs.groupby("arm")["text"].nunique()
    sample_n = int(counts.min()) if len(counts) else None
    # parsed, and its lexicon built, once for all arms
    catalog = shared.catalog if shared is not None else items_by_id(items)
    faithfulness = shared.faithfulness if shared is not None else FaithfulnessChecker(catalog.values())
    out: dict[str, dict[str, Any]] = {}
    for arm in spec.arm_names:
        arm_pairs = pairs[pairs["arm"] == arm]
        if arm_pairs.empty:
            continue
        out[arm] = dict(arm_text_metrics(arm_pairs[["item_id", "text", "segment", "exposures"]].reset_index(drop=True),
                                         catalog, seed=spec.key, sample_n=sample_n, faithfulness=faithfulness,
                                         shared=shared))
    return out


def diversity(spec: Spec, engine: Engine, params: q.QueryParams, rel: q.Relations) -> dict[str, dict[str, Any]]:
    """{arm: metrics}; arms that showed no joined text are left out. Every arm is measured at the
    same sample size (the smallest arm's distinct texts) so ``*_at_n`` values compare."""
    inputs = exposed_inputs(engine, params, rel)
    return {} if inputs is None else diversity_of(spec, *inputs)

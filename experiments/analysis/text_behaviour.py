"""CTR and CVR by text feature, per arm, with user-clustered (delta-method) CIs.

Associations, not effects: a text's features vary within users and with the items they are
attached to (a discounted item both gets "promo" texts and sells better), so a gap between
levels says where an arm's clicks come from, not what a feature causes.

How events meet features (text_feature_stats.sql): every attributed click or order is tied to
the latest exposure of the same (user, item) at or before it, and counts for the feature
levels of that exposure's text. Per user and level: exposures with that level, clicks and
orders anchored on them; CTR = Σclicks/Σexposures and CVR = Σorders/Σclicks over the users
with any exposure at that level, with the delta method over users (abkit.stats.ratio_interval).
Features (abkit.text.features) are computed in Python for the distinct (reason, item, viewer
segment) keys — each (item, text) scored once, each viewer segment's aspect found once — and
registered back into the engine (DuckDB or Spark) as a small table.
CIs are the plain delta-method intervals (not clamped at 0, so a tiny group can show a lower
bound below zero).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from abkit.spec import Spec
from abkit.stats.ratio import ratio_interval
from abkit.stats.types import SufficientStats
from abkit.text.shared_scores import SharedScores
from experiments.analysis import queries as q
from experiments.analysis.block_sql import FEATURES_TABLE, block_query
from experiments.analysis.engines.base import Engine

FEATURES = ("mentions_promo", "mentions_priority_aspect", "length_bucket", "unfaithful")
NOTE = ("association, not a causal effect: text features vary within users and with items "
        "(e.g. promo texts sit on discounted items), so levels are not randomized")
ROW_NOTE = "association, not a causal effect"
UNKNOWN = "unknown"  # feature not defined: no viewer persona, item not in the catalog


def _level(values: pd.Series) -> pd.Series:
    """One VARCHAR level per key: booleans → yes/no, strings kept, missing → 'unknown'."""
    if values.name == "length_bucket":
        return values.astype(object).where(values.notna(), UNKNOWN)
    b = values.astype("boolean")
    return pd.Series(np.where(b.isna(), UNKNOWN, np.where(b.fillna(False), "yes", "no")), index=values.index)


def _catalog(engine: Engine, item_ids: pd.Series, rel: q.Relations) -> pd.DataFrame:
    engine.register("abkit_feature_items", pd.DataFrame({"item_id": item_ids.drop_duplicates().astype(str)})
                    .reset_index(drop=True))
    try:
        return engine.frame(q.Query("feature_items", f"""
            SELECT i.item_id, min(i.category) AS category, min(i.brand) AS brand, min(i.title) AS title,
                   min(i.price) AS price, min(i.discount) AS discount,
                   min(CAST(i.attributes AS STRING)) AS attributes
            FROM {rel.items} i JOIN abkit_feature_items e ON e.item_id = i.item_id
            GROUP BY i.item_id"""))
    finally:
        engine.drop("abkit_feature_items")


def feature_table(keys: pd.DataFrame, items: pd.DataFrame, shared: SharedScores | None = None) -> pd.DataFrame:
    """Feature levels (strings) per (reason_id, item_id, segment) key of ``keys`` (which also holds text);
    keys without a text are left out. ``shared``: the keys' (item, text) pairs already scored against ``items``."""
    from abkit.text.features import feature_columns
    from abkit.text.items import items_by_id
    from abkit.world.textlex import segment_top_aspect

    keys = keys[keys["text"].notna()]
    feats = feature_columns(keys["item_id"].tolist(), keys["text"].astype(str).tolist(), keys["segment"].tolist(),
                            shared.catalog if shared is not None else items_by_id(items),
                            segment_aspect=segment_top_aspect, shared=shared)
    cols = {"reason_id": keys["reason_id"], "item_id": keys["item_id"], "segment": keys["segment"]}
    cols.update({f: _level(feats[f].set_axis(keys.index)) for f in FEATURES})
    return pd.DataFrame({k: v.astype("string") for k, v in cols.items()})


# (keys, catalog) -> levels per key: feature_table, or an incremental refresh's stored levels
Levels = Callable[[pd.DataFrame, pd.DataFrame], pd.DataFrame]


def feature_inputs(engine: Engine, params: q.QueryParams, rel: q.Relations,
                   items: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """(the distinct (reason, item, segment) keys with their text, the catalog rows of their items), or None
    where the analysis users saw no text: the engine's part before the levels. ``items``: those catalog rows,
    already fetched (text_metrics.exposed_inputs' over the same user texts: the same items)."""
    keys = engine.frame(block_query("text_feature_keys", params, rel, engine=engine.name))
    if keys.empty:
        return None
    return keys, _catalog(engine, keys["item_id"], rel) if items is None else items


def level_stats(engine: Engine, params: q.QueryParams, rel: q.Relations, table: pd.DataFrame) -> pd.DataFrame:
    """text_feature_stats.sql over the levels ``table`` (registered in the engine for the statement)."""
    engine.register(FEATURES_TABLE, table)
    try:
        return engine.frame(block_query("text_feature_stats", params, rel, engine=engine.name))
    finally:
        engine.drop(FEATURES_TABLE)


def feature_stats(spec: Spec, engine: Engine, params: q.QueryParams, rel: q.Relations = q.DEFAULT_RELATIONS,
                  levels: Levels = feature_table) -> pd.DataFrame:
    """Per (arm, feature, level): n users and the sums of text_feature_stats.sql.

    Needs the per-user table ``rel.per_user`` (experiments/analysis/stages.py)."""
    inputs = feature_inputs(engine, params, rel)
    return pd.DataFrame() if inputs is None else level_stats(engine, params, rel, levels(*inputs))


def _level_order(feature: str, level: str) -> tuple[int, str]:
    order = {"yes": 0, "no": 1, "S": 0, "M": 1, "L": 2, "other": 3, UNKNOWN: 9}
    return order.get(level, 5), level


def feature_rows(frame: pd.DataFrame, arms: list[str], alpha: float) -> list[dict[str, Any]]:
    """The report rows: one per (arm, feature, level, metric ∈ {ctr, cvr})."""
    if frame.empty:
        return []
    arm_pos = {a: i for i, a in enumerate(arms)}
    recs = [r for r in frame.to_dict("records") if r["arm"] in arm_pos]
    recs.sort(key=lambda r: (arm_pos[r["arm"]], FEATURES.index(r["feature"]), _level_order(r["feature"], r["level"])))
    rows: list[dict[str, Any]] = []
    for r in recs:
        n = int(r["n"])
        ctr = SufficientStats(n, r["sum_c"], r["sum_c2"], r["sum_e"], r["sum_e2"], r["sum_ce"])
        cvr = SufficientStats(n, r["sum_o"], r["sum_o2"], r["sum_c"], r["sum_c2"], r["sum_oc"])
        for metric, s in (("ctr", ctr), ("cvr", cvr)):
            ci = ratio_interval(s, alpha)
            rows.append({
                "arm": r["arm"], "feature": r["feature"], "level": r["level"], "metric": metric,
                "value": ci.value, "ci_low": ci.ci_low, "ci_high": ci.ci_high, "se": ci.se,
                "users": n, "exposures": int(r["sum_e"]), "clicks": int(r["sum_c"]), "orders": int(r["sum_o"]),
                "warning": ci.warning, "note": ROW_NOTE,
            })
    return rows


def text_feature_block(spec: Spec, engine: Engine, params: q.QueryParams, rel: q.Relations = q.DEFAULT_RELATIONS,
                       levels: Levels = feature_table) -> list[dict[str, Any]]:
    """The ``text_features`` block of the analysis result (reports/build.py renders it)."""
    return feature_rows(feature_stats(spec, engine, params, rel, levels), spec.arm_names, spec.alpha)

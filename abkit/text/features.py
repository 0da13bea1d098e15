"""Text features per (item, text[, segment]) for the CTR/CVR-by-feature association table.

mentions_promo: the text claims a price or a promotion (X折, 满减, 直降, 券, 打折...);
mentions_priority_aspect: it mentions the segment's top aspect among the item's attributes plus
价格 and, when the item has one, 促销 (None without a segment or without ``segment_aspect``, the
caller's segment -> aspect rule, e.g. the synthetic world's persona weights);
length_bucket: S/M/L of lengths.LENGTH_BUCKETS ("other" outside them); unfaithful: a contradicted
claim (None when the item is not in the catalog); ad_law_violation: a banned term.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from abkit.text.faithfulness import FaithfulnessChecker
from abkit.text.items import ItemFacts, items_by_id
from abkit.text.lengths import length_bucket
from abkit.text.lexicon import PRICE_ATTRIBUTE, PROMO_ATTRIBUTE
from abkit.text.normalize import normalize, strip_whitespace
from abkit.text.numeric import DISCOUNT_KINDS, PRICE_KIND
from abkit.text.scoring import score_pairs

_PRICE_WORDS = re.compile(r"价|便宜|省钱|划算|实惠|平价")


def _priority_hit(aspect: str | None, item: ItemFacts | None, norm: str, kinds: set[str], attrs: set[str],
                  promo: bool) -> bool | None:
    if aspect is None or item is None:
        return None
    if aspect == PRICE_ATTRIBUTE:
        return PRICE_KIND in kinds or bool(_PRICE_WORDS.search(norm))
    if aspect == PROMO_ATTRIBUTE:
        return promo or bool(kinds & DISCOUNT_KINDS)
    value = item.attributes.get(aspect)
    return aspect in attrs or (value is not None and bool(value) and normalize(value) in norm)


def text_features(
    pairs: pd.DataFrame,
    items: pd.DataFrame | Mapping[str, ItemFacts] | None,
    segments: Sequence[str | None] | None = None,
    segment_aspect: Callable[[str, list[str]], str | None] | None = None,
    faithfulness: FaithfulnessChecker | None = None,
) -> pd.DataFrame:
    """One row per distinct (item_id, text, segment) of ``pairs`` (segment from its column or
    ``segments``), with the feature columns of the module doc."""
    df = pairs[["item_id", "text"]].copy()
    if "segment" in pairs.columns:
        df["segment"] = pairs["segment"].to_numpy()
    else:
        df["segment"] = list(segments) if segments is not None else None
    df["item_id"] = df["item_id"].astype("string").astype(object)
    df = df[df["text"].notna()].astype({"text": str}).drop_duplicates().reset_index(drop=True)
    catalog = items if isinstance(items, Mapping) else items_by_id(items)
    distinct = df[["item_id", "text"]].drop_duplicates().reset_index(drop=True)
    scores = score_pairs(distinct["text"].tolist(), distinct["item_id"].tolist(), catalog,
                         faithfulness=faithfulness or FaithfulnessChecker(catalog.values()), keep_supported=True)
    pos = {k: i for i, k in enumerate(zip(distinct["item_id"], distinct["text"], strict=True))}
    rows: list[dict[str, Any]] = []
    for item_id, text, segment in zip(df["item_id"], df["text"], df["segment"], strict=True):
        i = pos[(item_id, text)]
        item = catalog.get(item_id)
        claims = [*(scores.supported_claims or {}).get(i, []), *scores.contradicted.get(i, []),
                  *scores.unsupported_claims.get(i, [])]
        kinds = {c.kind for c in claims}
        supported_attrs = {c.attribute for c in (scores.supported_claims or {}).get(i, []) if c.attribute}
        aspect = None
        if item is not None and isinstance(segment, str) and segment_aspect is not None:
            aspect = segment_aspect(segment, [*item.attributes, PRICE_ATTRIBUTE])
        n_chars = len(strip_whitespace(text))
        unf = scores.unfaithful[i]
        rows.append({
            "mentions_promo": bool(scores.mentions_promo[i]),
            "priority_aspect": aspect,
            "mentions_priority_aspect": _priority_hit(aspect, item, normalize(text), kinds, supported_attrs,
                                                      bool(scores.mentions_promo[i])),
            "length": n_chars,
            "length_bucket": length_bucket(n_chars) or "other",
            "unfaithful": None if np.isnan(unf) else bool(unf),
            "ad_law_violation": bool(scores.violation[i]),
        })
    feats = pd.DataFrame(rows, index=df.index, columns=["mentions_promo", "priority_aspect", "mentions_priority_aspect",
                                                        "length", "length_bucket", "unfaithful", "ad_law_violation"])
    feats = feats.astype({"mentions_promo": bool, "ad_law_violation": bool, "length": "int64",
                          "mentions_priority_aspect": "boolean", "unfaithful": "boolean"})
    return pd.concat([df, feats], axis=1)

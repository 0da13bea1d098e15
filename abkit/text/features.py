"""Text features per (item, text[, segment]) for the CTR/CVR-by-feature association table.

mentions_promo: the text claims a price or a promotion (X折, 满减, 直降, 券, 打折...);
mentions_priority_aspect: it mentions the segment's top aspect among the item's attributes plus
价格 and, when the item has one, 促销 (None without a segment or without ``segment_aspect``, the
caller's segment -> aspect rule, e.g. the synthetic world's persona weights);
length_bucket: S/M/L of lengths.LENGTH_BUCKETS ("other" outside them); unfaithful: a contradicted
claim (None when the item is not in the catalog); ad_law_violation: a banned term.

Cost: the texts are scored once per distinct (item, text) (abkit.text.scoring), the aspect rule is
asked once per distinct (segment, attribute names), and "mentions the aspect" is decided once per
distinct ((item, text), aspect); everything per (item, text, segment) row is array indexing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from abkit.text.faithfulness import FaithfulnessChecker
from abkit.text.items import ItemFacts, items_by_id
from abkit.text.lengths import LENGTH_BUCKETS
from abkit.text.lexicon import PRICE_ATTRIBUTE, PROMO_ATTRIBUTE
from abkit.text.normalize import normalize, strip_whitespace
from abkit.text.numeric import DISCOUNT_KINDS, PRICE_KIND
from abkit.text.scoring import score_pairs
from abkit.text.shared_scores import SharedScores

_PRICE_WORDS = re.compile(r"价|便宜|省钱|划算|实惠|平价")
COLUMNS = ("mentions_promo", "priority_aspect", "mentions_priority_aspect", "length", "length_bucket",
           "unfaithful", "ad_law_violation")


def _length_buckets(lengths: np.ndarray) -> np.ndarray:
    """lengths.length_bucket of each length, "other" outside every bucket."""
    out = np.full(len(lengths), "other", dtype=object)
    for name, (lo, hi) in reversed(list(LENGTH_BUCKETS.items())):  # the first matching bucket wins
        out[(lengths >= lo) & (lengths <= hi)] = name
    return out


def pair_features(texts: Sequence[str], item_ids: Sequence[str], catalog: Mapping[str, ItemFacts],
                  faithfulness: FaithfulnessChecker | None = None, shared: SharedScores | None = None) -> pd.DataFrame:
    """The segment-free features of distinct (item, text) pairs, one row per pair in input order, plus
    what the priority-aspect test needs: ``norm`` (normalized text), ``price_claim`` / ``discount_claim``
    (the text makes a price / a discount claim) and ``supported_attributes`` (attributes a supported
    claim names). ``shared``: the pairs already scored (abkit.text.shared_scores, against this catalog)."""
    scores = shared.take(item_ids, texts) if shared is not None else score_pairs(
        list(texts), list(item_ids), catalog, faithfulness=faithfulness or FaithfulnessChecker(catalog.values()),
        keep_supported=True)
    n = len(texts)
    supported = scores.supported_claims or {}
    price_claim = np.zeros(n, dtype=bool)
    discount_claim = np.zeros(n, dtype=bool)
    for i in {*supported, *scores.contradicted, *scores.unsupported_claims}:
        kinds = {c.kind for part in (supported, scores.contradicted, scores.unsupported_claims)
                 for c in part.get(i, ())}
        price_claim[i] = PRICE_KIND in kinds
        discount_claim[i] = bool(kinds & DISCOUNT_KINDS)
    attrs: list[frozenset[str]] = [frozenset()] * n
    for i, claims in supported.items():
        attrs[i] = frozenset(c.attribute for c in claims if c.attribute)
    lengths = np.fromiter((len(strip_whitespace(t)) for t in texts), dtype=np.int64, count=n)
    unf = pd.array(scores.unfaithful == 1.0, dtype="boolean")
    unf[np.isnan(scores.unfaithful)] = pd.NA
    return pd.DataFrame({
        "mentions_promo": scores.mentions_promo.astype(bool),
        "length": lengths,
        "length_bucket": _length_buckets(lengths),
        "unfaithful": unf,
        "ad_law_violation": scores.violation.astype(bool),
        "norm": [normalize(t) for t in texts],
        "price_claim": price_claim,
        "discount_claim": discount_claim,
        "supported_attributes": attrs,
    })


def _codes(*columns: Sequence[object] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(code of each row's combination of ``columns`` values, in order of first appearance; the first
    row of each code). Missing values (None / NaN) are a value of their own."""
    combined = np.zeros(len(columns[0]), dtype=np.int64)
    for col in columns:
        codes, uniques = pd.factorize(pd.Series(col, dtype=object), use_na_sentinel=False)
        combined = pd.factorize(combined * max(len(uniques), 1) + codes)[0]
    return combined, np.unique(combined, return_index=True)[1]


def _aspects(item_ids: list[str], segments: list[object], catalog: Mapping[str, ItemFacts],
             segment_aspect: Callable[[str, list[str]], str | None] | None) -> np.ndarray:
    """The priority aspect of each (item, segment) (None where undefined). The rule is asked once
    per distinct (segment, the item's attribute names in order): it must depend on nothing else."""
    out = np.full(len(item_ids), None, dtype=object)
    if segment_aspect is None:
        return out
    attrs = {i: tuple(catalog[i].attributes) for i in dict.fromkeys(item_ids) if i in catalog}
    memo: dict[tuple[str, tuple[str, ...]], str | None] = {}
    for k, (item_id, segment) in enumerate(zip(item_ids, segments, strict=True)):
        names = attrs.get(item_id)
        if names is None or not isinstance(segment, str):
            continue
        key = (segment, names)
        if key not in memo:
            memo[key] = segment_aspect(segment, [*names, PRICE_ATTRIBUTE])
        out[k] = memo[key]
    return out


def _mentions(aspects: np.ndarray, pairs: np.ndarray, item_ids: list[str], feats: pd.DataFrame,
              catalog: Mapping[str, ItemFacts]) -> np.ndarray:
    """Does the text of pair ``pairs[k]`` mention ``aspects[k]``: price words or a price claim for 价格,
    a promotion for 促销, else the attribute named by a supported claim or its value in the text."""
    promo = feats["mentions_promo"].to_numpy(bool) | feats["discount_claim"].to_numpy(bool)
    norm = feats["norm"].tolist()
    price = feats["price_claim"].to_numpy(bool).copy()
    for p in np.unique(pairs[aspects == PRICE_ATTRIBUTE]).tolist():
        price[p] = price[p] or bool(_PRICE_WORDS.search(norm[p]))
    attrs = feats["supported_attributes"].tolist()
    values: dict[tuple[str, str], str | None] = {}

    def said(aspect: str, p: int) -> bool:
        key = (item_ids[p], aspect)
        if key not in values:
            value = catalog[item_ids[p]].attributes.get(aspect)
            values[key] = normalize(value) if value else None
        value = values[key]
        return aspect in attrs[p] or (value is not None and value in norm[p])

    return np.array([price[p] if a == PRICE_ATTRIBUTE else promo[p] if a == PROMO_ATTRIBUTE else said(a, p)
                     for a, p in zip(aspects.tolist(), pairs.tolist(), strict=True)], dtype=bool)


def feature_columns(item_ids: Sequence[object], texts: Sequence[str], segments: Sequence[object],
                    catalog: Mapping[str, ItemFacts],
                    segment_aspect: Callable[[str, list[str]], str | None] | None = None,
                    faithfulness: FaithfulnessChecker | None = None,
                    shared: SharedScores | None = None) -> pd.DataFrame:
    """The feature columns (module doc) of each row (item_id, text, segment), rows as given (no text
    may be missing). Work is done per distinct (item, text), (item, segment) and (pair, aspect).
    ``shared``: the pairs already scored (pair_features)."""
    items = list(item_ids)
    pair_code, pair_first = _codes(items, texts)
    first = pair_first.tolist()
    pair_items = [items[k] for k in first]
    feats = pair_features([texts[k] for k in first], pair_items, catalog, faithfulness, shared)

    seg_code, seg_first = _codes(items, segments)
    seg_aspect = _aspects([items[k] for k in seg_first.tolist()], [segments[k] for k in seg_first.tolist()],
                          catalog, segment_aspect)
    aspect = seg_aspect[seg_code]

    hit = pd.array(np.zeros(len(items), dtype=bool), dtype="boolean")
    has = np.array([a is not None for a in aspect.tolist()], dtype=bool)
    hit[~has] = pd.NA
    if has.any():  # decided once per distinct (pair, aspect)
        rows = np.flatnonzero(has)
        combo_code, combo_first = _codes(pair_code[rows], aspect[rows])
        decided = _mentions(aspect[rows][combo_first], pair_code[rows][combo_first], pair_items, feats, catalog)
        hit[rows] = decided[combo_code]

    def per_row(name: str) -> np.ndarray:
        return feats[name].to_numpy()[pair_code]

    return pd.DataFrame({
        "mentions_promo": per_row("mentions_promo").astype(bool),
        "priority_aspect": pd.Series(aspect.tolist(), dtype=None),  # inferred, as from a list of rows
        "mentions_priority_aspect": hit,
        "length": per_row("length").astype(np.int64),
        "length_bucket": pd.Series(per_row("length_bucket").tolist(), dtype=None),
        "unfaithful": feats["unfaithful"].array.take(pair_code) if len(items) else feats["unfaithful"].array,
        "ad_law_violation": per_row("ad_law_violation").astype(bool),
    }, columns=list(COLUMNS))


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
    feats = feature_columns(df["item_id"].tolist(), df["text"].tolist(), df["segment"].tolist(), catalog,
                            segment_aspect, faithfulness)
    return pd.concat([df, feats.set_axis(df.index)], axis=1)

"""Personalization across segments (docs/text.md, Diversity): for each item, 1 − mean pairwise char-3-gram
Jaccard similarity of the texts shown to different segments; averaged over items.

The text analogue of recmetrics.personalization. Pairs are only between different segments
(u ≠ v). To bound the cost, at most ``max_items`` items (seeded sample) and ``per_segment``
texts per (item, segment) (the first in sorted order) enter; texts under 3 characters count as
one gram.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from abkit.text.normalize import strip_whitespace
from abkit.text.selfbleu import seeded_rng


def _grams(text: str) -> frozenset[str]:
    s = strip_whitespace(text)
    return frozenset({s}) if len(s) < 3 else frozenset(s[i:i + 3] for i in range(len(s) - 2))


def personalization(pairs: pd.DataFrame, *, seed: str, max_items: int = 2000, per_segment: int = 2) -> dict[str, Any]:
    """{"personalization": mean over items, "personalization_items": items used} (None if no item
    was shown to two segments)."""
    df = pairs.loc[pairs["segment"].notna(), ["item_id", "segment", "text"]]
    if df.empty:
        return {"personalization": None, "personalization_items": 0}
    nseg = df.groupby("item_id", sort=True)["segment"].nunique()
    eligible = nseg.index[nseg >= 2].to_numpy()
    if eligible.size == 0:
        return {"personalization": None, "personalization_items": 0}
    if eligible.size > max_items:
        eligible = np.sort(seeded_rng(seed, "personalization").choice(eligible, size=max_items, replace=False))
    # only the sampled items' rows are deduplicated and sorted (the cut below keeps every segment)
    df = df[df["item_id"].isin(set(eligible))].drop_duplicates()
    df = df.sort_values(["item_id", "segment", "text"], kind="stable")
    df = df[df.groupby(["item_id", "segment"], sort=False).cumcount() < per_segment]
    item_ids = df["item_id"].to_numpy()
    segments, texts = df["segment"].tolist(), df["text"].tolist()
    bounds = np.flatnonzero(np.r_[True, item_ids[1:] != item_ids[:-1], True]).tolist()  # rows sorted by item
    scores = []
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        segs = segments[lo:hi]
        grams = [_grams(t) for t in texts[lo:hi]]
        sims = [len(grams[i] & grams[j]) / len(grams[i] | grams[j])
                for i, j in combinations(range(len(segs)), 2) if segs[i] != segs[j]]
        scores.append(1.0 - float(np.mean(sims)))
    return {"personalization": float(np.mean(scores)), "personalization_items": len(scores)}

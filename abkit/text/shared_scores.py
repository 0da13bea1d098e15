"""One scoring pass over an analysis' distinct (item, text) pairs, shared by its text blocks.

The diversity block (abkit.text.arm_metrics, per arm) and the text features (abkit.text.features,
per key) score the same pairs against the same catalog. Scored here once — the catalog parsed once,
each item's faithfulness profile built once — each block takes the rows it would have scored itself.
They are the same numbers: a pair's scores depend on its item and text alone (and on the catalog the
checker is built from, the same here), and the claim lists are kept for every pair
(``keep_supported``), a superset of what either block reads (the examples' first claim lists, the
features' supported claims).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from abkit.text.faithfulness import FaithfulnessChecker
from abkit.text.items import ItemFacts, items_by_id
from abkit.text.scoring import PairScores, default_jobs, score_pairs


def take_scores(scores: PairScores, rows: np.ndarray) -> PairScores:
    """The scores of pairs ``rows`` (positions in ``scores``), renumbered 0.. in that order."""
    pos = rows.tolist()

    def pick(details: dict[int, list] | None) -> dict[int, list] | None:
        return None if details is None else {k: details[g] for k, g in enumerate(pos) if g in details}

    return PairScores(
        scores.violation[rows], {c: v[rows] for c, v in scores.categories.items()}, scores.unfaithful[rows],
        scores.unsupported[rows], scores.coverage[rows], scores.mentions_promo[rows],
        None if scores.subjective is None else scores.subjective[rows],
        pick(scores.matches) or {}, pick(scores.contradicted) or {}, pick(scores.unsupported_claims) or {},
        pick(scores.supported_claims))


@dataclass(frozen=True)
class SharedScores:
    """The catalog, its faithfulness checker and the scores of every distinct pair of ``pairs``."""

    catalog: Mapping[str, ItemFacts]
    faithfulness: FaithfulnessChecker
    pairs: dict[tuple[str | None, str], int]  # (item_id, text) -> its row in scores
    scores: PairScores  # with every claim list (keep_supported)

    @classmethod
    def score(cls, item_ids: Sequence[str | None], texts: Sequence[str],
              items: pd.DataFrame | Mapping[str, ItemFacts] | None, *, jobs: int | None = None) -> SharedScores:
        """Score the distinct (item_ids[k], texts[k]) pairs against ``items`` (jobs: as arm_text_metrics')."""
        catalog = items if isinstance(items, Mapping) else items_by_id(items)
        faith = FaithfulnessChecker(catalog.values())
        distinct = list(dict.fromkeys(zip(item_ids, texts, strict=True)))
        scores = score_pairs([t for _, t in distinct], [i for i, _ in distinct], catalog, faithfulness=faith,
                             keep_supported=True, jobs=default_jobs(len(distinct)) if jobs is None else jobs)
        return cls(catalog, faith, {pair: k for k, pair in enumerate(distinct)}, scores)

    def take(self, item_ids: Sequence[str | None], texts: Sequence[str]) -> PairScores:
        """The scores of (item_ids[k], texts[k]) in that order. Should one not have been scored (an item id
        spelled another way, say), these pairs are scored now: the same numbers, only not shared."""
        rows = np.fromiter((self.pairs.get(pair, -1) for pair in zip(item_ids, texts, strict=True)), np.int64,
                           len(texts))
        if (rows < 0).any():
            return score_pairs(list(texts), list(item_ids), self.catalog, faithfulness=self.faithfulness,
                               keep_supported=True)
        return take_scores(self.scores, rows)

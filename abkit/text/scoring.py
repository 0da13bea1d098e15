"""Score (item, text) pairs with the compliance and faithfulness checkers in one pass.

One NFKC pass per text feeds both checkers; per-item profiles are built once per item. Only
flagged rows keep their match / claim details, so a million clean texts cost little memory.
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from abkit.text.compliance import CATEGORIES, ComplianceChecker, Match, default_checker
from abkit.text.extension import TextExtension
from abkit.text.faithfulness import Claim, FaithfulnessChecker, FaithResult
from abkit.text.items import ItemFacts, as_item
from abkit.text.normalize import normalize_both
from abkit.text.numeric import DISCOUNT_KINDS, PRICE_KIND

PROMO_CLAIM_KINDS = DISCOUNT_KINDS | {PRICE_KIND, "promo_word", "free_ship_over"}


@dataclass
class PairScores:
    """Per-pair arrays (NaN where the item is unknown) plus details of flagged pairs."""

    violation: np.ndarray  # bool
    categories: dict[str, np.ndarray]  # category -> bool per pair
    unfaithful: np.ndarray  # float 0/1, NaN when the item is not in the catalog
    unsupported: np.ndarray  # float 0/1, NaN when unknown
    coverage: np.ndarray  # float, NaN when unknown or the item has no attributes
    mentions_promo: np.ndarray  # bool
    subjective: np.ndarray | None = None  # float 0/1: the text makes a style / opinion claim, NaN when unknown
    matches: dict[int, list[Match]] = field(default_factory=dict)
    contradicted: dict[int, list[Claim]] = field(default_factory=dict)
    unsupported_claims: dict[int, list[Claim]] = field(default_factory=dict)
    supported_claims: dict[int, list[Claim]] | None = None


@dataclass
class TextChecker:
    """The one text checker of lint-reasons, the generators' candidate filter and analyze:
    compliance + faithfulness built from the catalog and an optional extension."""

    compliance: ComplianceChecker
    faithfulness: FaithfulnessChecker

    @classmethod
    def build(cls, items: Mapping[str, ItemFacts] | Sequence[object] | None = None,
              extension: TextExtension | None = None) -> TextChecker:
        values = list(items.values()) if isinstance(items, Mapping) else list(items or [])
        comp = default_checker() if extension is None else ComplianceChecker(extension=extension)
        return cls(comp, FaithfulnessChecker(values, extension=extension))

    def check(self, text: str, item: object) -> tuple[list[Match], FaithResult]:
        """Banned terms and faithfulness of one text for one item (dict, row, request or ItemFacts)."""
        facts = as_item(item)
        return self.compliance.check(text, facts), self.faithfulness.check(text, facts)

    def score(self, texts: Sequence[str], item_ids: Sequence[str | None], items: Mapping[str, ItemFacts], *,
              keep_supported: bool = False, jobs: int = 1) -> PairScores:
        return score_pairs(texts, item_ids, items, compliance=self.compliance, faithfulness=self.faithfulness,
                           keep_supported=keep_supported, jobs=jobs)


PARALLEL_MIN = 100_000  # below this many pairs a second process costs more than it saves
_JOB: tuple | None = None  # work shared with forked workers (no pickling of checkers)


def default_jobs(n: int) -> int:
    return 1 if n < PARALLEL_MIN else max(1, min(2, os.cpu_count() or 1))


def score_pairs(
    texts: Sequence[str],
    item_ids: Sequence[str | None],
    items: Mapping[str, ItemFacts],
    *,
    compliance: ComplianceChecker | None = None,
    faithfulness: FaithfulnessChecker | None = None,
    keep_supported: bool = False,
    jobs: int = 1,
) -> PairScores:
    """Compliance + faithfulness of each (text, item_id); ``jobs`` > 1 forks worker processes."""
    return start_scoring(texts, item_ids, items, compliance=compliance, faithfulness=faithfulness,
                         keep_supported=keep_supported, jobs=jobs)()


def start_scoring(
    texts: Sequence[str],
    item_ids: Sequence[str | None],
    items: Mapping[str, ItemFacts],
    *,
    compliance: ComplianceChecker | None = None,
    faithfulness: FaithfulnessChecker | None = None,
    keep_supported: bool = False,
    jobs: int = 1,
) -> Callable[[], PairScores]:
    """Like score_pairs, but with ``jobs`` > 1 the workers start now and the returned callable
    collects their result, so the caller can compute something else meanwhile."""
    comp = compliance or default_checker()
    faith = faithfulness or FaithfulnessChecker(items.values())
    n = len(texts)
    if jobs > 1 and n >= 2 * jobs and "fork" in mp.get_all_start_methods():
        return _start_parallel(texts, item_ids, items, comp, faith, keep_supported, jobs)
    return lambda: _score_serial_nogc(texts, item_ids, items, comp, faith, keep_supported)


def _score_serial_nogc(texts, item_ids, items, comp, faith, keep_supported) -> PairScores:
    gc_was_enabled = gc.isenabled()
    gc.disable()  # millions of small claim tuples: cyclic GC passes would dominate
    try:
        return _score_serial(texts, item_ids, items, comp, faith, keep_supported)
    finally:
        if gc_was_enabled:
            gc.enable()


def _score_chunk(bounds: tuple[int, int]) -> PairScores:
    texts, item_ids, items, comp, faith, keep_supported = _JOB  # type: ignore[misc]
    a, b = bounds
    gc.disable()
    return _score_serial(texts[a:b], item_ids[a:b], items, comp, faith, keep_supported)


def _start_parallel(texts, item_ids, items, comp, faith, keep_supported, jobs) -> Callable[[], PairScores]:
    global _JOB
    n = len(texts)
    edges = np.linspace(0, n, jobs * 4 + 1).astype(int)
    _JOB = (list(texts), list(item_ids), items, comp, faith, keep_supported)
    try:
        pool = mp.get_context("fork").Pool(jobs)  # workers fork now and keep their copy of _JOB
    finally:
        _JOB = None
    pending = pool.map_async(_score_chunk, list(zip(edges[:-1], edges[1:], strict=True)))

    def finish() -> PairScores:
        try:
            parts = pending.get()
        finally:
            pool.terminate()
            pool.join()
        return _merge(parts, edges, keep_supported)

    return finish


def _merge(parts: list[PairScores], edges: np.ndarray, keep_supported: bool) -> PairScores:
    out = PairScores(
        np.concatenate([p.violation for p in parts]),
        {c: np.concatenate([p.categories[c] for p in parts]) for c in CATEGORIES},
        np.concatenate([p.unfaithful for p in parts]),
        np.concatenate([p.unsupported for p in parts]),
        np.concatenate([p.coverage for p in parts]),
        np.concatenate([p.mentions_promo for p in parts]),
        np.concatenate([p.subjective for p in parts if p.subjective is not None]),
        supported_claims={} if keep_supported else None,
    )
    for offset, part in zip(edges[:-1], parts, strict=True):
        off = int(offset)
        out.matches.update({i + off: v for i, v in part.matches.items()})
        out.contradicted.update({i + off: v for i, v in part.contradicted.items()})
        out.unsupported_claims.update({i + off: v for i, v in part.unsupported_claims.items()})
        if keep_supported and part.supported_claims:
            out.supported_claims.update({i + off: v for i, v in part.supported_claims.items()})  # type: ignore[union-attr]
    return out


def _score_serial(texts, item_ids, items, comp, faith, keep_supported) -> PairScores:
    n = len(texts)
    violation = np.zeros(n, dtype=bool)
    cat_index = {c: i for i, c in enumerate(CATEGORIES)}
    cats = np.zeros((len(CATEGORIES), n), dtype=bool)
    unfaithful = np.full(n, np.nan)
    unsupported = np.full(n, np.nan)
    coverage = np.full(n, np.nan)
    promo = np.zeros(n, dtype=bool)
    subjective = np.full(n, np.nan)
    out = PairScores(violation, {}, unfaithful, unsupported, coverage, promo, subjective,
                     supported_claims={} if keep_supported else None)
    profiles: dict[str, object] = {}
    check_norm = comp.check_normalized
    check_faith = faith.check_cased
    normalized = [normalize_both(text) for text in texts]
    candidates = comp.flagged_candidates([norm for _, norm in normalized])
    prepared = [faith.prepared(cased) if item_id is not None else ("", "")
                for (cased, _), item_id in zip(normalized, item_ids, strict=True)]
    mentions = faith.lexicon.mentions_many([low for _, low in prepared])
    for i, ((cased, norm), item_id) in enumerate(zip(normalized, item_ids, strict=True)):
        item = items.get(item_id) if item_id is not None else None
        found = check_norm(norm, item, cased) if i in candidates else None
        if found:
            violation[i] = True
            out.matches[i] = found
            for m in found:
                cats[cat_index[m.category], i] = True
        if item is None:
            continue
        prof = profiles.get(item_id)
        if prof is None:
            prof = profiles[item_id] = faith.profile(item)
        prep_cased, lowered = prepared[i]
        res = check_faith(prep_cased, prof, mentions[i], lowered)
        unfaithful[i] = 1.0 if res.contradicted else 0.0
        unsupported[i] = 1.0 if res.unsupported else 0.0
        subjective[i] = 1.0 if res.subjective else 0.0
        if res.n_attributes:
            coverage[i] = len(res.covered) / res.n_attributes
        if res.contradicted:
            out.contradicted[i] = res.contradicted
        if res.unsupported:
            out.unsupported_claims[i] = res.unsupported
        if keep_supported and res.supported:
            out.supported_claims[i] = res.supported  # type: ignore[index]
        promo[i] = any(c.kind in PROMO_CLAIM_KINDS for c in (*res.supported, *res.contradicted, *res.unsupported))
    out.categories = {c: cats[j] for c, j in cat_index.items()}
    return out

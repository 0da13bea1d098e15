"""Score (item, text) pairs with the compliance and faithfulness checkers in one pass.

Each distinct text is normalized once (one NFKC pass over the batch) and its claims extracted once
into a table; verdicts are computed once per distinct (item, claim) and pairs summarized by array
operations (abkit.text.verdicts); pairs with a contradicted or unsupported claim, and every pair when
``keep_supported`` asks for all claim lists, are judged one by one (abkit.text.batch).
Results equal ComplianceChecker.check + FaithfulnessChecker.check on each pair. Only flagged rows
keep their match / claim details, so a million clean texts cost little memory.
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from abkit.text.batch import ItemJudge, text_claims
from abkit.text.compliance import CATEGORIES, ComplianceChecker, Match, default_checker
from abkit.text.extension import TextExtension
from abkit.text.faithfulness import Claim, FaithfulnessChecker, FaithResult
from abkit.text.items import ItemFacts, as_item
from abkit.text.normalize import normalize_both_many
from abkit.text.numeric import DISCOUNT_KINDS, PRICE_KIND
from abkit.text.sharedwork import start_shared
from abkit.text.verdicts import claim_table, judge_pairs

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
    # claim lists of pairs with a contradicted / unsupported claim (with ``claim_lists=k``: at least the first k of each)
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
    claim_lists: int | None = None,
) -> PairScores:
    """Compliance + faithfulness of each (text, item_id); ``jobs`` > 1: that many processes score, the
    caller and ``jobs`` - 1 forked workers.

    ``claim_lists=k``: the contradicted / unsupported claim lists are only wanted for the first k
    such pairs (examples), so the other flagged pairs skip the per-pair judge; None: every pair's."""
    return start_scoring(texts, item_ids, items, compliance=compliance, faithfulness=faithfulness,
                         keep_supported=keep_supported, jobs=jobs, claim_lists=claim_lists)()


def start_scoring(
    texts: Sequence[str],
    item_ids: Sequence[str | None],
    items: Mapping[str, ItemFacts],
    *,
    compliance: ComplianceChecker | None = None,
    faithfulness: FaithfulnessChecker | None = None,
    keep_supported: bool = False,
    jobs: int = 1,
    claim_lists: int | None = None,
) -> Callable[[], PairScores]:
    """Like score_pairs, but with ``jobs`` > 1 the workers start now and the returned callable
    collects their result, so the caller can compute something else meanwhile."""
    comp = compliance or default_checker()
    faith = faithfulness or FaithfulnessChecker(items.values())
    n = len(texts)
    if jobs > 1 and n >= 2 * jobs and "fork" in mp.get_all_start_methods():
        return _start_parallel(texts, item_ids, items, comp, faith, keep_supported, jobs, claim_lists)
    return lambda: _score_serial_nogc(texts, item_ids, items, comp, faith, keep_supported, claim_lists)


def _score_serial_nogc(texts, item_ids, items, comp, faith, keep_supported, claim_lists,
                       rank: np.ndarray | None = None) -> PairScores:
    gc_was_enabled = gc.isenabled()
    gc.disable()  # millions of small claim tuples: cyclic GC passes would dominate
    try:
        return _score_serial(texts, item_ids, items, comp, faith, keep_supported, claim_lists, rank)
    finally:
        if gc_was_enabled:
            gc.enable()


CHUNKS_PER_JOB = 4  # small enough that the caller, once free, takes a fair share


def _start_parallel(texts, item_ids, items, comp, faith, keep_supported, jobs, claim_lists) -> Callable[[], PairScores]:
    """Chunks of pairs grouped by item (each item's profile is built in one process), scored by ``jobs`` - 1
    forked workers and by the caller once it asks for the result (abkit.text.sharedwork)."""
    n = len(texts)
    codes, _ = pd.factorize(pd.Series(list(item_ids), dtype=object), sort=False)
    chunks = np.array_split(np.argsort(codes, kind="stable"), jobs * CHUNKS_PER_JOB)
    texts, item_ids = list(texts), list(item_ids)

    def score_chunk(k: int) -> PairScores:
        rows = chunks[k].tolist()
        return _score_serial_nogc([texts[i] for i in rows], [item_ids[i] for i in rows], items, comp, faith,
                                  keep_supported, claim_lists, rank=chunks[k])

    finish_chunks = start_shared(score_chunk, len(chunks), jobs - 1)
    return lambda: _merge(finish_chunks(), chunks, n, keep_supported)


def _merge(parts: list[PairScores], chunks: list[np.ndarray], n: int, keep_supported: bool) -> PairScores:
    """One PairScores in the original pair order from the chunks' (chunk k scored pairs chunks[k])."""
    out = PairScores(np.zeros(n, bool), {c: np.zeros(n, bool) for c in CATEGORIES}, np.full(n, np.nan),
                     np.full(n, np.nan), np.full(n, np.nan), np.zeros(n, bool), np.full(n, np.nan),
                     supported_claims={} if keep_supported else None)
    for rows, part in zip(chunks, parts, strict=True):
        for name in ("violation", "unfaithful", "unsupported", "coverage", "mentions_promo", "subjective"):
            getattr(out, name)[rows] = getattr(part, name)
        for c in CATEGORIES:
            out.categories[c][rows] = part.categories[c]
        pos = rows.tolist()
        out.matches.update({pos[i]: v for i, v in part.matches.items()})
        out.contradicted.update({pos[i]: v for i, v in part.contradicted.items()})
        out.unsupported_claims.update({pos[i]: v for i, v in part.unsupported_claims.items()})
        if keep_supported and part.supported_claims:
            out.supported_claims.update({pos[i]: v for i, v in part.supported_claims.items()})  # type: ignore[union-attr]
    for name in ("matches", "contradicted", "unsupported_claims"):
        setattr(out, name, dict(sorted(getattr(out, name).items())))
    if keep_supported:
        out.supported_claims = dict(sorted(out.supported_claims.items()))  # type: ignore[union-attr]
    return out


def _score_serial(texts, item_ids, items, comp, faith, keep_supported, claim_lists: int | None = None,
                  rank: np.ndarray | None = None) -> PairScores:
    """Pairs walked item by item over their distinct texts (abkit.text.batch): results as if each
    pair went through ComplianceChecker.check and FaithfulnessChecker.check on its own.
    ``rank``: each pair's position in the caller's order (which pairs come first for ``claim_lists``)."""
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
    text_ids, uniq = pd.factorize(pd.Series(list(texts), dtype=object), sort=False)
    normalized = normalize_both_many(list(uniq))
    candidates = comp.flagged_candidates([norm for _, norm in normalized])
    for i in np.flatnonzero(np.isin(text_ids, np.fromiter(candidates, np.int64, len(candidates)))).tolist():
        item_id = item_ids[i]
        cased, norm = normalized[text_ids[i]]
        found = comp.check_normalized(norm, items.get(item_id) if item_id is not None else None, cased)
        if found:
            violation[i] = True
            out.matches[i] = found
            for m in found:
                cats[cat_index[m.category], i] = True
    out.categories = {c: cats[j] for c, j in cat_index.items()}

    rows, item_codes, item_list = _known_items(item_ids, items)
    if rows.size == 0:
        return out
    order = np.argsort(item_codes, kind="stable")  # item by item
    rows, item_codes = rows[order], item_codes[order]
    if keep_supported:  # every pair's claim lists are wanted: judge pair by pair
        per_pair = rows
    else:
        needed, text_code = np.unique(text_ids[rows], return_inverse=True)
        table = claim_table(faith, [normalized[t][0] for t in needed.tolist()])
        flags = judge_pairs(faith, [items[k] for k in item_list], item_codes, text_code, table, PROMO_CLAIM_KINDS)
        unfaithful[rows] = flags.contradicted
        unsupported[rows] = flags.unsupported
        subjective[rows] = flags.subjective
        promo[rows] = flags.promo
        with_attrs = flags.n_attributes > 0
        coverage[rows[with_attrs]] = flags.n_covered[with_attrs] / flags.n_attributes[with_attrs]
        per_pair = rows[_claim_lists_wanted(flags.contradicted, flags.unsupported, claim_lists,
                                            rows if rank is None else rank[rows])]
    _judge_each(per_pair, text_ids, normalized, item_ids, items, faith, keep_supported, out)
    out.contradicted = dict(sorted(out.contradicted.items()))  # pair order, as the callers expect
    out.unsupported_claims = dict(sorted(out.unsupported_claims.items()))
    if keep_supported:
        out.supported_claims = dict(sorted(out.supported_claims.items()))  # type: ignore[union-attr]
    return out


def _known_items(item_ids: Sequence[str | None], items: Mapping[str, ItemFacts]) -> tuple[np.ndarray, np.ndarray, list]:
    """(rows whose item is in the catalog, their item codes, the item id of each code), codes by first appearance."""
    codes, uniq = pd.factorize(pd.Series(list(item_ids), dtype=object), sort=False)  # None / NaN: -1
    in_catalog = np.fromiter((k in items for k in uniq), bool, len(uniq))
    rows = np.flatnonzero(in_catalog[codes] & (codes >= 0)) if len(uniq) else np.zeros(0, np.int64)
    remap = np.cumsum(in_catalog) - 1
    return rows, remap[codes[rows]], [k for k, ok in zip(uniq, in_catalog.tolist(), strict=True) if ok]


def _claim_lists_wanted(contradicted: np.ndarray, unsupported: np.ndarray, k: int | None,
                        rank: np.ndarray) -> np.ndarray:
    """Mask of the pairs whose claim lists are kept: all flagged ones, or the first ``k`` (by rank) of each flag."""
    if k is None:
        return contradicted | unsupported
    out = np.zeros(contradicted.shape, bool)
    for flag in (contradicted, unsupported):
        at = np.flatnonzero(flag)
        out[at[np.argsort(rank[at], kind="stable")[:k]]] = True
    return out


def _judge_each(rows: np.ndarray, text_ids: np.ndarray, normalized: list[tuple[str, str]], item_ids, items, faith,
                keep_supported: bool, out: PairScores) -> None:
    """The per-pair judge (abkit.text.batch) for ``rows`` (grouped by item): every field and claim list."""
    if rows.size == 0:
        return
    needed = np.unique(text_ids[rows])
    claims = dict(zip(needed.tolist(), text_claims(faith, [normalized[t][0] for t in needed.tolist()]), strict=True))
    judge: ItemJudge | None = None
    current = None
    n_attrs = 0
    for i, t in zip(rows.tolist(), text_ids[rows].tolist(), strict=True):
        item_id = item_ids[i]
        if item_id != current:
            current = item_id
            judge = ItemJudge(faith, faith.profile(items[item_id]), PROMO_CLAIM_KINDS)
            n_attrs = len(judge.attributes)
        res = judge.judge(claims[t], keep_supported)  # type: ignore[union-attr]
        out.unfaithful[i] = 1.0 if res.contradicted else 0.0
        out.unsupported[i] = 1.0 if res.unsupported else 0.0
        out.subjective[i] = 1.0 if res.subjective else 0.0  # type: ignore[index]
        if n_attrs:
            out.coverage[i] = res.n_covered / n_attrs
        if res.contradicted:
            out.contradicted[i] = res.contradicted
        if res.unsupported:
            out.unsupported_claims[i] = res.unsupported
        if res.supported:
            out.supported_claims[i] = res.supported  # type: ignore[index]
        out.mentions_promo[i] = res.mentions_promo

"""Per-arm text metrics: the docs/interface.md, Analysis JSON ``diversity`` block entry, plus more.

    entry = arm_text_metrics(pairs, items, seed=spec.seed, sample_n=n)
    table = compare_arms_equal_n({"control": pairs_c, "neural": pairs_n}, items, seed=spec.seed)

``pairs`` holds the texts an arm exposed: columns item_id, text and optionally segment (the
user segment it was shown to) and exposures (how many times). Diversity metrics run over the
distinct texts; compliance, faithfulness and coverage over the distinct (item, text) pairs;
``*_at_n`` fields over a seeded sample of ``sample_n`` distinct texts, so arms compare at equal N.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from abkit.text.compliance import CATEGORIES
from abkit.text.diversity import diversity, length_stats, repetition
from abkit.text.extension import TextExtension
from abkit.text.faithfulness import FaithfulnessChecker
from abkit.text.items import ItemFacts, items_by_id
from abkit.text.ngrams import Encoded, NgramTable, encode_chars, entropy, ngram_table
from abkit.text.personalization import personalization
from abkit.text.scoring import PairScores, TextChecker, default_jobs, start_scoring
from abkit.text.selfbleu import seeded_sample, self_bleu
from abkit.text.shared_scores import SharedScores
from abkit.text.sharedwork import start_shared

NGRAM_ORDERS = (1, 2, 3, 4)


def _rate(values: np.ndarray, weights: np.ndarray | None = None) -> float | None:
    ok = ~np.isnan(values) if values.dtype.kind == "f" else np.ones(values.shape, bool)
    if not ok.any():
        return None
    w = None if weights is None else weights[ok]
    return float(np.average(values[ok].astype(float), weights=w))


def _clean(obj: Any) -> Any:
    """JSON-safe: NaN/inf -> None, numpy scalars -> Python."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return None if not np.isfinite(obj) else float(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def _examples(pairs: pd.DataFrame, scores: PairScores, k: int) -> dict[str, list[dict[str, Any]]]:
    ids, texts = pairs["item_id"].array, pairs["text"].array  # only k rows are read
    return {
        "violations": [
            {"item_id": ids[i], "text": texts[i], "terms": [{"term": m.term, "category": m.category} for m in ms]}
            for i, ms in sorted(scores.matches.items())[:k]
        ],
        "unfaithful": [
            {"item_id": ids[i], "text": texts[i],
             "claims": [{"claim": c.surface, "kind": c.kind, "why": c.note} for c in cs]}
            for i, cs in sorted(scores.contradicted.items())[:k]
        ],
        "unsupported": [
            {"item_id": ids[i], "text": texts[i], "claims": [c.surface for c in cs]}
            for i, cs in sorted(scores.unsupported_claims.items())[:k]
        ],
    }


def _prepare(pairs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(distinct (item, text) pairs with summed exposures, rows with segments) from the input."""
    missing = {"item_id", "text"} - set(pairs.columns)
    if missing:
        raise ValueError(f"pairs lacks column(s) {sorted(missing)}")
    df = pairs[pairs["text"].notna()].copy()
    df["item_id"] = df["item_id"].astype("string").astype(object)
    df["text"] = df["text"].astype(str)
    if "exposures" in df.columns:
        grouped = df.groupby(["item_id", "text"], sort=False, dropna=False)["exposures"].sum().reset_index()
    else:
        grouped = df[["item_id", "text"]].drop_duplicates().reset_index(drop=True)
    return grouped, df


def arm_text_metrics(
    pairs: pd.DataFrame,
    items: pd.DataFrame | Mapping[str, ItemFacts] | None,
    *,
    seed: str,
    sample_n: int | None = None,
    self_bleu_sample: int = 500,
    n_examples: int = 5,
    faithfulness: FaithfulnessChecker | None = None,
    jobs: int | None = None,
    text_lexicon: TextExtension | None = None,
    shared: SharedScores | None = None,
) -> dict[str, Any]:
    """The diversity-block entry of one arm (keys of docs/interface.md, Analysis JSON plus the extras in the module doc).

    ``self_bleu_sample=0`` skips self-BLEU (the one quadratic metric). ``jobs``: processes scoring pairs, the
    caller included (default: 1, or 2 from 100k pairs on); with more than one, the metrics of the texts alone
    run in one more forked process meanwhile (abkit.text.sharedwork). ``text_lexicon``: a team's extension
    file (used when no ``faithfulness`` checker is given). ``shared``: these pairs already scored (one pass
    over several callers' pairs, abkit.text.shared_scores): their scores are taken from it.
    """
    grouped, rows = _prepare(pairs)
    text_code, uniques = pd.factorize(grouped["text"], sort=False)
    out: dict[str, Any] = {"texts": len(uniques), "pairs": int(len(grouped)), "tokenizer": "char"}
    if not len(uniques):
        return _clean(out)
    n_jobs = default_jobs(len(grouped)) if jobs is None else jobs
    exposures = grouped["exposures"] if "exposures" in grouped.columns else None

    def text_side(_: int = 0) -> _TextSide:
        return _text_side(uniques.tolist(), text_code, exposures, rows, seed=seed, sample_n=sample_n,
                          self_bleu_sample=self_bleu_sample)

    # the metrics of the texts alone (numpy over every character) run in a forked process from here on,
    # while this one parses the catalog and scores pairs with the scoring workers (abkit.text.sharedwork)
    fork = shared is None and n_jobs > 1 and "fork" in mp.get_all_start_methods()
    finish_text = start_shared(text_side, 1, 1) if fork else None
    if shared is not None:
        scores = shared.take(grouped["item_id"].tolist(), grouped["text"].tolist())
    else:
        catalog = items if isinstance(items, Mapping) else items_by_id(items)
        checker = TextChecker.build(catalog, text_lexicon) if faithfulness is None or text_lexicon is not None else None
        scores = start_scoring(grouped["text"].tolist(), grouped["item_id"].tolist(), catalog,
                               compliance=checker.compliance if checker else None,
                               faithfulness=faithfulness or (checker.faithfulness if checker else None),
                               jobs=n_jobs, claim_lists=n_examples)()  # claim lists only for the examples
    text = finish_text()[0] if finish_text is not None else text_side()

    out.update(text.ngrams)
    out["ad_law_violation_rate"] = _rate(scores.violation)
    out["unfaithful_rate"] = _rate(scores.unfaithful)
    out["unsupported_rate"] = _rate(scores.unsupported)
    out["subjective_rate"] = _rate(scores.subjective) if scores.subjective is not None else None
    out["attribute_coverage"] = _rate(scores.coverage)
    out["items_missing"] = int(np.isnan(scores.unfaithful).sum())
    out["violation_rate_by_category"] = {c: _rate(scores.categories[c]) for c in CATEGORIES}
    out["promo_mention_rate"] = _rate(scores.mentions_promo)

    out["sample_n"] = text.sample_n
    for n in NGRAM_ORDERS:
        out[f"distinct_{n}_at_n"] = text.at_n.get(f"distinct_{n}")
        out[f"entropy_{n}_at_n"] = text.at_n.get(f"entropy_{n}")
    out["entropy"] = {str(n): out[f"entropy_{n}"] for n in NGRAM_ORDERS}

    out["unique_reason_ratio"] = len(uniques) / len(grouped)
    out.update(text.shape)
    if exposures is not None:
        w = exposures.fillna(0).to_numpy(dtype=float)
        if w.sum() > 0:
            out["exposure_weighted"] = {**_weighted_rates(scores, w), **text.weighted}
    out["examples"] = _examples(grouped, scores, n_examples)
    return _clean(out)


@dataclass(frozen=True)
class _TextSide:
    """The metrics that need only the texts (and their exposures and segments), each group in output order."""

    ngrams: dict[str, Any]  # distinct_n, entropy_n, self_bleu, self_bleu_sample
    sample_n: int
    at_n: dict[str, Any]  # diversity() of the seeded sample
    shape: dict[str, Any]  # repetition, lengths, personalization
    weighted: dict[str, Any]  # exposure-weighted mean length, top text share, entropy_2 / entropy_4


def _text_side(distinct: list[str], text_code: np.ndarray, exposures: pd.Series | None, rows: pd.DataFrame, *,
               seed: str, sample_n: int | None, self_bleu_sample: int) -> _TextSide:
    texts, text_rank = _sorted_texts(distinct, text_code)
    enc = encode_chars(texts)
    tables = {n: ngram_table(enc, n) for n in NGRAM_ORDERS}
    ngrams: dict[str, Any] = {}
    for n, table in tables.items():
        ngrams[f"distinct_{n}"] = table.unique / table.total if table.total else None
        ngrams[f"entropy_{n}"] = entropy(table.counts) if table.total else None
    ngrams["self_bleu"] = self_bleu(texts, sample=self_bleu_sample, seed=seed) if self_bleu_sample else None
    ngrams["self_bleu_sample"] = min(len(texts), self_bleu_sample)
    n_at = len(texts) if sample_n is None else max(0, min(int(sample_n), len(texts)))
    at = diversity(seeded_sample(texts, n_at, seed, "at_n")) if n_at else {}
    shape = {**repetition(enc=enc, tables=tables), **length_stats(enc.lengths)}
    shape.update(personalization(rows, seed=seed) if "segment" in rows.columns else {})
    weighted = _weighted_texts(exposures, text_rank, enc, tables) if exposures is not None else {}
    return _TextSide(ngrams, n_at, at, shape, weighted)


def _sorted_texts(distinct: list[str], text_code: np.ndarray) -> tuple[list[str], np.ndarray]:
    """(the distinct texts sorted, each pair's text as its index in them). Arrow sorts strings by their UTF-8
    bytes, which is code point order, str's own; a text that is no valid UTF-8 (a lone surrogate) sorts in Python."""
    try:
        by_text = pc.sort_indices(pa.array(distinct, pa.large_string())).to_numpy()
    except (pa.ArrowException, UnicodeEncodeError):
        by_text = np.asarray(sorted(range(len(distinct)), key=distinct.__getitem__), np.int64)
    rank = np.empty(len(by_text), np.int64)
    rank[by_text] = np.arange(len(by_text))
    return [distinct[i] for i in by_text.tolist()], rank[text_code]


def _weighted_rates(scores: PairScores, w: np.ndarray) -> dict[str, Any]:
    """Rates weighted by exposures (what users actually saw)."""
    return {
        "exposures": float(w.sum()),
        "ad_law_violation_rate": _rate(scores.violation, w),
        "unfaithful_rate": _rate(scores.unfaithful, w),
        "unsupported_rate": _rate(scores.unsupported, w),
        "subjective_rate": _rate(scores.subjective, w) if scores.subjective is not None else None,
        "attribute_coverage": _rate(scores.coverage, w),
    }


def _weighted_texts(exposures: pd.Series, text_rank: np.ndarray, enc: Encoded,
                    tables: dict[int, NgramTable]) -> dict[str, Any]:
    """Exposure-weighted text length, top text share and n-gram entropy."""
    per_text = exposures.groupby(text_rank, sort=True).sum().to_numpy(float)  # every text has a pair
    out: dict[str, Any] = {
        "mean_length": float(np.average(enc.lengths, weights=per_text)) if per_text.sum() else None,
        "top_text_share": float(per_text.max() / per_text.sum()) if per_text.sum() else None,
    }
    for n in (2, 4):
        table = tables[n]
        counts = np.bincount(table.gram_id, weights=per_text[table.text_id], minlength=table.unique)
        out[f"entropy_{n}"] = entropy(counts)
    return out


def compare_arms_equal_n(
    pairs_by_arm: Mapping[str, pd.DataFrame],
    items: pd.DataFrame | Mapping[str, ItemFacts] | None,
    *,
    seed: str,
    sample_n: int | None = None,
    **kwargs: Any,
) -> dict[str, dict[str, Any]]:
    """arm_text_metrics for every arm with one common ``sample_n``: the fewest distinct texts of any
    arm (capped by ``sample_n`` when given), so ``*_at_n`` fields are comparable across arms."""
    catalog = items if isinstance(items, Mapping) else items_by_id(items)
    sizes = [pairs["text"].dropna().nunique() for pairs in pairs_by_arm.values()]
    common = min(sizes) if sizes else 0
    if sample_n is not None:
        common = min(common, int(sample_n))
    faith = kwargs.pop("faithfulness", None) or FaithfulnessChecker(catalog.values())
    return {arm: arm_text_metrics(pairs, catalog, seed=seed, sample_n=common, faithfulness=faith, **kwargs)
            for arm, pairs in pairs_by_arm.items()}

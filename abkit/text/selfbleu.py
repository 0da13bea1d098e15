"""Self-BLEU (Texygen; Zhu et al. 2018), exactly as docs/interface.md, Analysis JSON pins it.

For a seeded sample of at most 500 distinct texts (sorted, then sampled with a generator seeded
by sha256(seed)), each text s_i is the hypothesis and all the other sampled texts are its
references; self-BLEU is the mean sentence BLEU on a 0–1 scale. Sentence BLEU here is:
- tokens: characters, whitespace removed;
- modified precisions p_1..p_4, clipped by the max count of the n-gram in any one reference;
- smoothing: add one to numerator and denominator of p_n for n ≥ 2 (p_1 unsmoothed; a
  hypothesis with no matching unigram scores 0), which is nltk's SmoothingFunction().method2
  and sacrebleu's smooth_method="add-k", smooth_value=1; a denominator is max(1, count) as in nltk;
- uniform weights 1/4, geometric mean;
- brevity penalty with the closest reference length (ties: the shorter), as in nltk.
The clip counts are computed for all hypotheses at once: per n-gram, the largest and
second-largest count over texts give the max over "all texts but i" in O(total n-grams).
Results are cached by a hash of the sampled text set.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pandas as pd

from abkit.text.ngrams import encode_chars, is_sorted_distinct, ngram_table

MAX_ORDER = 4
_CACHE: dict[str, float] = {}


def seeded_rng(seed: str, purpose: str = "") -> np.random.Generator:
    digest = hashlib.sha256(f"{seed}|{purpose}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def seeded_sample(texts: Sequence[str], n: int, seed: str, purpose: str = "sample") -> list[str]:
    """n distinct texts sampled without replacement, independent of the input order."""
    uniq = list(texts) if is_sorted_distinct(texts) else sorted(set(texts))
    if len(uniq) <= n:
        return uniq
    idx = seeded_rng(seed, purpose).choice(len(uniq), size=n, replace=False)
    return [uniq[i] for i in np.sort(idx)]


def _other_max(gram_id: np.ndarray, text_id: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per distinct (text, gram): its count, its count clipped by the gram's max count in any other text,
    and its text id."""
    df = pd.DataFrame({"g": gram_id, "t": text_id})
    cnt = df.value_counts(sort=False).reset_index(name="c")
    cnt = cnt.sort_values(["g", "c"], ascending=[True, False], kind="stable").reset_index(drop=True)
    g = cnt["g"].to_numpy()
    c = cnt["c"].to_numpy()
    first = np.r_[True, g[1:] != g[:-1]]
    grp = np.cumsum(first) - 1
    top1 = c[first]
    starts = np.flatnonzero(first)
    second_pos = starts + 1
    has_second = np.r_[second_pos[:-1] < starts[1:], second_pos[-1] < len(c)] if len(starts) else np.zeros(0, bool)
    top2 = np.where(has_second, c[np.minimum(second_pos, len(c) - 1)], 0)
    other = np.where(np.arange(len(c)) == starts[grp], top2[grp], top1[grp])
    return c, np.minimum(c, other), cnt["t"].to_numpy()


def sentence_bleus(texts: Sequence[str]) -> np.ndarray:
    """BLEU of each text against all the others (module doc), vectorized."""
    k = len(texts)
    if k < 2:
        return np.full(k, np.nan)
    enc = encode_chars(list(texts))
    lengths = enc.lengths.astype(float)
    log_p = np.zeros(k)
    zero = np.zeros(k, dtype=bool)
    for n in range(1, MAX_ORDER + 1):
        table = ngram_table(enc, n)
        num: np.ndarray = np.zeros(k)
        if table.total:
            _c, clipped, t = _other_max(table.gram_id, table.text_id)
            num = np.bincount(t, weights=clipped, minlength=k)
        den = np.maximum(1.0, np.maximum(lengths - n + 1, 0))
        if n == 1:
            zero |= num == 0
            log_p += np.log(np.where(num > 0, num, 1.0) / den) / MAX_ORDER
        else:
            log_p += np.log((num + 1.0) / (den + 1.0)) / MAX_ORDER
    # brevity penalty against the closest other length (ties: shorter)
    diff = np.abs(lengths[None, :] - lengths[:, None])
    np.fill_diagonal(diff, np.inf)
    order_key = diff * 1e6 + lengths[None, :]
    ref_len = lengths[np.argmin(order_key, axis=1)]
    bp = np.where(lengths > ref_len, 1.0, np.exp(1.0 - ref_len / np.maximum(lengths, 1.0)))
    bp = np.where(lengths == 0, 0.0, bp)
    return np.where(zero, 0.0, bp * np.exp(log_p))


def self_bleu(texts: Sequence[str], *, sample: int = 500, seed: str) -> float | None:
    """Mean BLEU of each sampled text against the other sampled texts (0–1; lower = more diverse)."""
    chosen = seeded_sample(texts, sample, seed, "self_bleu")
    if len(chosen) < 2:
        return None
    key = hashlib.sha256("\x00".join(chosen).encode("utf-8")).hexdigest()
    if key not in _CACHE:
        _CACHE[key] = float(np.mean(sentence_bleus(chosen)))
    return _CACHE[key]

"""Diversity, repetition and length of a set of texts (docs/text.md, Diversity), vectorized over all texts.

- distinct-n (Li et al. 2016, corpus level): |unique n-grams| / |all n-grams| over all texts,
  character n-grams with whitespace removed (``tokenizer="jieba"`` uses jieba words instead);
  the denominator is n-grams, not tokens. Falls as the number of texts grows: compare arms at
  equal N (arm_metrics.compare_arms_equal_n).
- entropy-n (Zhang et al. 2018): −Σ p(g) ln p(g) over the n-gram frequency distribution (nats).
- unique-reason ratio: |unique texts| / |texts| (template collapse).
- repetition: a text repeats when it has a char 3-gram (without digits) twice, an immediately repeated 2-char
  chunk (超值超值), or an immediately doubled CJK character outside common reduplications
  (很很 yes, 宝宝 no); seq-rep-4 = mean over texts of 1 − |unique 4-grams in s| / |4-grams in s|
  (Welleck et al. 2020).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from abkit.text.lengths import LENGTH_BUCKETS
from abkit.text.ngrams import (
    Encoded,
    NgramTable,
    encode_chars,
    encode_tokens,
    entropy,
    ngram_table,
    per_text_unique,
)

# Characters whose doubling is ordinary Chinese (宝宝, 妈妈, 刚刚...), not a stutter.
REDUPLICATION_OK = frozenset("宝妈爸哥姐弟妹爷奶婆公舅叔姑天常刚试看慢多满好嫩软甜香暖乖萌美小轻稳淡静悄偷久步人件个条款次层串粒滴点块片张本")
_REDUP_CODES = np.array(sorted(ord(c) for c in REDUPLICATION_OK), dtype=np.uint32)


def _encode(texts: Sequence[str], tokenizer: str) -> Encoded:
    if tokenizer == "char":
        return encode_chars(texts)
    if tokenizer == "jieba":
        import jieba  # optional extra: abkit[text]

        jieba.setLogLevel(60)
        return encode_tokens([[w for w in jieba.lcut(t, HMM=False) if w.strip()] for t in texts])
    raise ValueError(f"unknown tokenizer {tokenizer!r} (char or jieba)")


def diversity(texts: Sequence[str], *, ns: Sequence[int] = (1, 2, 3, 4), tokenizer: str = "char") -> dict[str, Any]:
    """distinct-n and entropy-n for each n, the unique-reason ratio, and the tokenizer used."""
    texts = list(texts)
    enc = _encode(texts, tokenizer)
    out: dict[str, Any] = {"tokenizer": tokenizer, "texts": len(texts)}
    for n in ns:
        table = ngram_table(enc, n)
        out[f"distinct_{n}"] = table.unique / table.total if table.total else None
        out[f"entropy_{n}"] = entropy(table.counts) if table.total else None
    out["unique_reason_ratio"] = len(set(texts)) / len(texts) if texts else None
    return out


def repetition(texts: Sequence[str] | None = None, *, enc: Encoded | None = None,
               tables: dict[int, NgramTable] | None = None) -> dict[str, Any]:
    """Share of repetitive texts (see module doc) and mean seq-rep-4.

    ``enc``/``tables``: an encoding of the texts and its n-gram tables, when already computed.
    """
    enc = enc if enc is not None else encode_chars(list(texts or []))
    tables = tables or {}
    n_texts = enc.n_texts
    if n_texts == 0:
        return {"repetition_rate": None, "seq_rep_4": None}
    flagged = np.zeros(n_texts, dtype=bool)
    if enc.codepoints is None:
        raise ValueError("repetition needs the character encoding (encode_chars)")
    ids, cps = enc.ids, enc.codepoints
    t3 = tables.get(3) or ngram_table(enc, 3)
    digit = (cps >= 48) & (cps <= 57)  # 10000 is not a repetition
    pos = t3.pos if t3.pos is not None else np.zeros(0, np.int64)
    keep = ~(digit[pos] | digit[pos + 1] | digit[pos + 2])
    if keep.any():
        u3, n3 = per_text_unique(NgramTable(3, t3.gram_id[keep], t3.text_id[keep], t3.counts), n_texts)
        flagged |= u3 < n3
    text_of = enc.text_index
    cjk = cps >= 0x2E80
    # immediately repeated 2-char chunk: ids[i:i+2] == ids[i+2:i+4], all four CJK and inside one text
    m = ids.shape[0] - 3
    if m > 0:
        hit = ((ids[:m] == ids[2:m + 2]) & (ids[1:m + 1] == ids[3:m + 3]) & (ids[:m] != 0) & (ids[1:m + 1] != 0)
               & cjk[:m] & cjk[1:m + 1])
        flagged[np.unique(text_of[:m][hit])] = True
    m = ids.shape[0] - 1
    if m > 0:
        hit = (ids[:m] == ids[1:m + 1]) & (ids[:m] != 0) & cjk[:m] & ~np.isin(cps[:m], _REDUP_CODES)
        flagged[np.unique(text_of[:m][hit])] = True
    out: dict[str, Any] = {"repetition_rate": float(flagged.mean())}
    for n in (4,):
        u, t = per_text_unique(tables[n] if n in tables else ngram_table(enc, n), n_texts)
        ok = t > 0
        out[f"seq_rep_{n}"] = float((1 - u[ok] / t[ok]).mean()) if ok.any() else None
    return out


def length_stats(lengths: np.ndarray, weights: np.ndarray | None = None) -> dict[str, Any]:
    """Length (characters, whitespace removed) distribution and the S/M/L bucket shares (lengths.py)."""
    if lengths.size == 0:
        return {"mean_length": None}
    w = np.ones(lengths.shape, float) if weights is None else weights.astype(float)
    out: dict[str, Any] = {
        "mean_length": float(np.average(lengths, weights=w)),
        "length": {
            "min": int(lengths.min()), "p10": float(np.percentile(lengths, 10)),
            "median": float(np.median(lengths)), "p90": float(np.percentile(lengths, 90)),
            "max": int(lengths.max()),
        },
    }
    shares = {}
    inside = np.zeros(lengths.shape, bool)
    for name, (lo, hi) in LENGTH_BUCKETS.items():
        sel = (lengths >= lo) & (lengths <= hi)
        inside |= sel
        shares[name] = float(w[sel].sum() / w.sum())
    shares["other"] = float(w[~inside].sum() / w.sum())
    out["length_buckets"] = shares
    return out

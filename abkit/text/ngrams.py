"""Vectorized n-gram counting over many short texts (numpy + pandas hashing, no per-text loops).

Texts are concatenated into one array of dense token ids with a separator between texts; the
n-gram starting at position i is packed into one int64 (base-V digits) and is valid when no
separator falls inside it. Counting unique n-grams is then one hash factorization.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

SEP = "\x00"


@dataclass(frozen=True)
class Encoded:
    """Dense token ids of all texts, separator id 0 after each text."""

    ids: np.ndarray  # int64, length = total tokens + n_texts
    codepoints: np.ndarray | None  # uint32 per position (char tokenizer only)
    lengths: np.ndarray  # tokens per text
    vocab_size: int  # including the separator

    @property
    def n_texts(self) -> int:
        return int(self.lengths.shape[0])

    @functools.cached_property
    def token(self) -> np.ndarray:
        """bool per position: a token, not a separator."""
        return self.ids != 0

    @functools.cached_property
    def text_index(self) -> np.ndarray:
        """int64 per position: the text it belongs to (a separator: the text it ends)."""
        sep = ~self.token
        return np.cumsum(sep) - sep



def encode_chars(texts: Sequence[str]) -> Encoded:
    """Character tokens with all whitespace removed (docs/interface.md, Analysis JSON)."""
    n = len(texts)
    if n == 0:
        return Encoded(np.zeros(0, np.int64), np.zeros(0, np.uint32), np.zeros(0, np.int64), 1)
    joined = SEP.join(texts) + SEP
    if joined.count(SEP) != n:  # a text holds the separator itself: drop it from that text
        joined = SEP.join(t.replace(SEP, "") for t in texts) + SEP
    codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
    ws = _whitespace_mask(codes)
    if ws.any():
        codes = codes[~ws]
    is_sep = codes == 0
    ends = np.flatnonzero(is_sep)
    lengths = np.diff(np.concatenate([[-1], ends])) - 1
    present = np.zeros(int(codes.max()) + 1, dtype=bool)
    present[codes] = True
    present[0] = True
    dense = np.cumsum(present, dtype=np.int64) - 1
    return Encoded(dense[codes], codes, lengths.astype(np.int64), int(present.sum()))


_WS_CODES = np.array([c for c in range(0x3001) if chr(c).isspace()] + [0xFEFF], dtype=np.uint32)
_IS_WS = np.zeros(0x3001, bool)  # a lookup table of the codes below 0x3001 (the ones masked)
_IS_WS[_WS_CODES[_WS_CODES < 0x3001]] = True


def _whitespace_mask(codes: np.ndarray) -> np.ndarray:
    return _IS_WS[np.minimum(codes, 0x3000)] & (codes < 0x3001)


def encode_tokens(token_lists: Sequence[Sequence[str]]) -> Encoded:
    """Word tokens (e.g. jieba) with the same layout."""
    vocab: dict[str, int] = {}
    flat: list[int] = []
    lengths = np.fromiter((len(t) for t in token_lists), dtype=np.int64, count=len(token_lists))
    for toks in token_lists:
        for tok in toks:
            flat.append(vocab.setdefault(tok, len(vocab) + 1))
        flat.append(0)
    return Encoded(np.asarray(flat, dtype=np.int64), None, lengths, len(vocab) + 1)


@dataclass(frozen=True)
class NgramTable:
    """All valid n-grams of one order: per position the n-gram's dense id and its text."""

    n: int
    gram_id: np.ndarray  # dense id (0..n_unique-1) per valid n-gram occurrence
    text_id: np.ndarray  # text index per occurrence
    counts: np.ndarray  # occurrences per unique n-gram
    pos: np.ndarray | None = None  # start position (in Encoded.ids) per occurrence

    @property
    def total(self) -> int:
        return int(self.gram_id.shape[0])

    @property
    def unique(self) -> int:
        return int(self.counts.shape[0])


def ngram_keys(enc: Encoded, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(packed key, start position, text index) of every valid n-gram."""
    ids = enc.ids
    m = ids.shape[0] - n + 1
    if m <= 0:
        z = np.zeros(0, np.int64)
        return z, z, z
    valid = enc.token[:m].copy()  # no separator inside the n-gram
    for j in range(1, n):
        valid &= enc.token[j:j + m]
    v = enc.vocab_size
    key = ids[:m][valid]
    if float(v) ** n < 2.0**62:
        for j in range(1, n):
            key *= v
            key += ids[j:j + m][valid]
    else:  # large vocabularies: re-densify the (n-1)-gram before appending a token
        for j in range(1, n):
            key = pd.factorize(key)[0].astype(np.int64) * v + ids[j:j + m][valid]
    return key, np.flatnonzero(valid), enc.text_index[:m][valid]


def ngram_table(enc: Encoded, n: int) -> NgramTable:
    key, pos, text_id = ngram_keys(enc, n)
    if key.size == 0:
        z = np.zeros(0, np.int64)
        return NgramTable(n, z, z, z, z)
    gid, uniq = pd.factorize(key)
    counts = np.bincount(gid, minlength=len(uniq))
    return NgramTable(n, gid.astype(np.int64, copy=False), text_id.astype(np.int64, copy=False), counts, pos)


def per_text_unique(table: NgramTable, n_texts: int) -> tuple[np.ndarray, np.ndarray]:
    """(unique n-grams, n-grams) per text: distinct (text, gram) keys counted after one sort
    (a sort of the packed keys is far cheaper than hashing millions of mostly unique keys)."""
    total = np.bincount(table.text_id, minlength=n_texts)
    if table.total == 0:
        return total, total
    width = np.int64(max(table.unique, 1))
    keys = np.sort(table.text_id * width + table.gram_id)
    first = np.empty(keys.shape, dtype=bool)
    first[0] = True
    np.not_equal(keys[1:], keys[:-1], out=first[1:])
    uniq = np.bincount(keys[first] // width, minlength=n_texts)
    return uniq, total


def is_sorted_distinct(texts: Sequence[str]) -> bool:
    """Whether ``texts`` is strictly increasing (already sorted(set(texts)))."""
    return all(a < b for a, b in zip(texts, texts[1:], strict=False))


def entropy(counts: np.ndarray) -> float:
    """Shannon entropy (nats) of a count vector."""
    total = counts.sum()
    if total == 0:
        return 0.0
    p = counts[counts > 0] / total
    return float(-(p * np.log(p)).sum()) + 0.0  # no -0.0

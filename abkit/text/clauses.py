"""Texts cut into clauses at punctuation, each distinct clause scanned once (the claim and value scans).

Generated reasons repeat their clauses (a hook, a value, a scene, a call to action): a million texts
hold far fewer distinct clauses than characters. A scan whose patterns neither match nor look at
a separator character finds in a text exactly what it finds in the text's clauses (a lookaround
sees the text's edge where it saw the separator, and both are neither a letter nor a digit), so
the regex and Aho-Corasick passes run over the distinct clauses and their hits are spread back
to every occurrence with numpy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

# After NFKC: ，。！？；  No claim pattern consumes one; words that hold one take it out of the set.
SEPARATORS = ",。!?;"


def separators_outside(words: Iterable[str]) -> str:
    """The SEPARATORS that occur in none of ``words`` (the entries a scan looks for)."""
    seen = set("".join(words))
    return "".join(c for c in SEPARATORS if c not in seen)


@dataclass(frozen=True)
class Clauses:
    """Texts joined by NUL, cut at NUL and the separators: occurrences in string order, each naming a distinct clause."""

    cased: list[str]  # per distinct clause: its string in the cased texts
    lowered: list[str]  # ... and as the lexicon scans it (same length)
    of: np.ndarray  # int64 per occurrence: its distinct clause
    start: np.ndarray  # int64 per occurrence: its offset in the joined string
    text: np.ndarray  # int64 per occurrence: its text
    separators: str  # the characters cut at besides NUL

    def occurrences(self, clause: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Hits in the distinct clauses (clause ids non-decreasing) -> (hit, occurrence) for each hit in each
        occurrence of its clause, in string order."""
        ptr = np.zeros(len(self.cased) + 1, np.int64)
        np.cumsum(np.bincount(clause, minlength=len(self.cased)), out=ptr[1:])
        occurrence, hit = expand(ptr, self.of)
        return hit, occurrence


def cut(cased: str, offsets: np.ndarray, separators: str, cased_scan: np.ndarray | None = None) -> Clauses:
    """Clauses of texts joined by NUL that start at ``offsets`` (a text may hold NUL: it cuts too).
    A clause's lowered form is its cased form lowered (str.lower sees no context across a separator),
    or the cased form itself in the texts where ``cased_scan`` says lowering changed the length."""
    parts = re.compile("[\0" + re.escape(separators) + "]").split(cased)
    start = np.zeros(len(parts), np.int64)
    np.cumsum(np.fromiter(map(len, parts[:-1]), np.int64, len(parts) - 1) + 1, out=start[1:])
    text = np.searchsorted(offsets, start, side="right") - 1
    of, uniq = pd.factorize(pd.Series(parts, dtype=object), sort=False)
    distinct: list[str] = uniq.tolist()
    if cased_scan is None or not cased_scan.any():
        return Clauses(distinct, [c.lower() for c in distinct], of.astype(np.int64), start, text, separators)
    of, keys = pd.factorize(of.astype(np.int64) * 2 + cased_scan[text], sort=False)
    cased_d = [distinct[k // 2] for k in keys.tolist()]
    lowered_d = [c if k % 2 else c.lower() for c, k in zip(cased_d, keys.tolist(), strict=True)]
    return Clauses(cased_d, lowered_d, of.astype(np.int64), start, text, separators)


def clause_of(joined_starts: np.ndarray, position: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(clause, offset in it) of positions in the distinct clauses joined by one character."""
    clause = np.searchsorted(joined_starts, position, side="right") - 1
    return clause, position - joined_starts[clause]


def expand(ptr: np.ndarray, owner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(index into ``owner``, row of the CSR table) for every row of every owner's segment."""
    return ranges(ptr[owner], ptr[owner + 1])


def ranges(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(i, j) for every j in range(lo[i], hi[i])."""
    counts = hi - lo
    which = np.repeat(np.arange(lo.shape[0]), counts)
    return which, lo[which] + np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)


def joined_offsets(strings: list[str]) -> np.ndarray:
    """Start of each string in "\\0".join(strings), plus one past the end."""
    out = np.zeros(len(strings) + 1, np.int64)
    np.cumsum(np.fromiter(map(len, strings), np.int64, len(strings)) + 1, out=out[1:])
    return out

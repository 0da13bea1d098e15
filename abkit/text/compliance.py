"""广告法 compliance: banned absolute / efficacy terms, longest match, allowlist precedence.

Matching runs on normalize(text) with one Aho-Corasick automaton holding both the banned terms
and the allowlisted compounds (built once). A banned match is dropped when it lies inside an
allowlisted compound (最近 hides 最, 第一次 hides 第一, 首页 is never a hit) or inside one of the
item's own facts (brand, title, attribute values: "100%纯棉" on a 100%纯棉 item is a fact, not a
boast); of the remaining banned matches only the longest (not contained in another) are kept.
ASCII terms (no.1, top1) must not be glued to other letters or digits.

BANNED_TERMS / ALLOWLIST are plain lists so a decoder can mask them. Note the list holds one
single-character term, 最: a decode-time mask must apply ALLOWLIST precedence (最近 stays legal).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from importlib import resources
from typing import Any, NamedTuple

import ahocorasick

from abkit.text.items import ItemFacts, as_item
from abkit.text.normalize import normalize, normalize_both

_DATA = json.loads(resources.files("abkit.text").joinpath("adlaw_terms.json").read_text(encoding="utf-8"))

BANNED_TERMS: dict[str, list[str]] = {cat: list(spec["terms"]) for cat, spec in _DATA["categories"].items()}
CATEGORY_LABELS: dict[str, str] = {cat: spec["label"] for cat, spec in _DATA["categories"].items()}
ALLOWLIST: list[str] = list(_DATA["allowlist"])
CATEGORIES: tuple[str, ...] = tuple(BANNED_TERMS)


class Match(NamedTuple):
    term: str  # the banned term as listed
    category: str
    start: int  # offsets in normalize(text)
    end: int


def _ascii_alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _gap(spaced: str | None, k: int) -> bool:
    """Whether the original text had whitespace before its k-th non-space character."""
    if spaced is None:
        return False
    seen = 0
    for ch in spaced:
        if ch == " ":
            if seen == k:
                return True
        else:
            seen += 1
            if seen > k:
                return False
    return False


class ComplianceChecker:
    """Finds banned terms; ``check`` for one text, ``check_many`` for (text, item) batches."""

    def __init__(self, extra_allow: Iterable[str] = (), extra_terms: dict[str, Sequence[str]] | None = None) -> None:
        self._auto = ahocorasick.Automaton()
        entries: dict[str, tuple[str, str, bool]] = {}  # normalized key -> (term, category | "", ascii)
        for cat, terms in list(BANNED_TERMS.items()) + list((extra_terms or {}).items()):
            for term in terms:
                key = normalize(term)
                if key:
                    entries[key] = (term, cat, key.isascii())
        for term in list(ALLOWLIST) + list(extra_allow):
            key = normalize(term)
            if key:
                entries[key] = (term, "", key.isascii())  # an allowlisted compound wins over a ban
        for key, (term, cat, is_ascii) in entries.items():
            self._auto.add_word(key, (len(key), term, cat, is_ascii))
        self._auto.make_automaton()

    def _scan(self, norm: str, spaced: str | None) -> tuple[list[tuple[int, int, str, str]], list[tuple[int, int]]]:
        bans: list[tuple[int, int, str, str]] = []
        allows: list[tuple[int, int]] = []
        for end, (length, term, cat, is_ascii) in self._auto.iter(norm):
            start = end + 1 - length
            if is_ascii and (
                (start > 0 and _ascii_alnum(norm[start - 1]) and not _gap(spaced, start)) or
                (end + 1 < len(norm) and _ascii_alnum(norm[end + 1]) and not _gap(spaced, end + 1))
            ):
                continue
            if cat:
                bans.append((start, end + 1, term, cat))
            else:
                allows.append((start, end + 1))
        return bans, allows

    def check_normalized(self, norm: str, item: ItemFacts | None = None, spaced: str | None = None) -> list[Match]:
        """``check`` on an already normalized string; ``spaced`` is the same text with its spaces
        kept (normalize_both), which tells "TOP1 20L" (a hit) from "TOP120L" (none)."""
        bans, allows = self._scan(norm, spaced)
        if not bans:
            return []
        if item is not None:
            for fact in item.own_strings():
                key = normalize(fact)
                if not key:
                    continue
                pos = norm.find(key)
                while pos >= 0:
                    allows.append((pos, pos + len(key)))
                    pos = norm.find(key, pos + 1)
        kept = [b for b in bans if not any(a0 <= b[0] and b[1] <= a1 for a0, a1 in allows)]
        longest = [
            b for b in kept
            if not any(o is not b and o[0] <= b[0] and b[1] <= o[1] and (o[1] - o[0]) > (b[1] - b[0]) for o in kept)
        ]
        longest.sort()
        return [Match(term, cat, s, e) for s, e, term, cat in longest]

    def check(self, text: str, item: Any | None = None) -> list[Match]:
        """Banned terms in ``text`` (offsets in normalize(text)); the item's own facts are allowed."""
        spaced, norm = normalize_both(text)
        return self.check_normalized(norm, None if item is None else as_item(item), spaced)

    def check_many(self, texts: Sequence[str], items: Sequence[Any | None] | None = None) -> list[list[Match]]:
        """One list of matches per text (an empty list for clean texts)."""
        items = items if items is not None else [None] * len(texts)
        return [self.check(t, it) for t, it in zip(texts, items, strict=True)]


_DEFAULT: ComplianceChecker | None = None


def default_checker() -> ComplianceChecker:
    """A process-wide checker (the automaton is built once)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = ComplianceChecker()
    return _DEFAULT

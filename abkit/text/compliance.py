"""广告法 compliance: banned absolute / efficacy terms, longest match, allowlist precedence.

Matching runs on normalize(text) with one Aho-Corasick automaton holding both the banned terms
and the allowlisted compounds (built once). A banned match is dropped when it lies inside an
allowlisted compound (最近 hides 最, 第一次 hides 第一, 首页 is never a hit) or inside one of the
item's own facts (brand, title, attribute values: "100%纯棉" on a 100%纯棉 item is a fact, not a
boast); of the remaining banned matches only the longest (not contained in another) are kept.
ASCII terms (no.1, top1) must not be glued to other letters or digits.

Category rules (adlaw_terms.json ``category_rules``) hold terms banned only for some item
categories: health / efficacy claims (增强免疫力, 祛痘, 助眠 ...) for food, cosmetics and baby
products, recognized by keywords in the item's category name (零食, 化妆品, 婴儿护理 ...). Plain
medical claims (治疗, 根治, 消炎 ...) are banned for every category. A superlative softened by a
qualifier (最畅销之一) is still reported: the qualifier does not make the claim provable.

BANNED_TERMS / ALLOWLIST are plain lists so a decoder can mask them. Note the list holds one
single-character term, 最: a decode-time mask must apply ALLOWLIST precedence (最近 stays legal).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from importlib import resources
from typing import Any, NamedTuple

import ahocorasick
import numpy as np

from abkit.text.extension import CategoryRule, TextExtension
from abkit.text.items import ItemFacts, as_item
from abkit.text.normalize import normalize, normalize_both

_DATA = json.loads(resources.files("abkit.text").joinpath("adlaw_terms.json").read_text(encoding="utf-8"))

BANNED_TERMS: dict[str, list[str]] = {cat: list(spec["terms"]) for cat, spec in _DATA["categories"].items()}
CATEGORY_LABELS: dict[str, str] = {cat: spec["label"] for cat, spec in _DATA["categories"].items()}
ALLOWLIST: list[str] = list(_DATA["allowlist"])
CATEGORY_RULES: dict[str, CategoryRule] = {
    name: CategoryRule(tuple(spec["applies_to"]), tuple(spec["terms"])) for name, spec in _DATA["category_rules"].items()}
CATEGORY_LABELS.update({name: spec["label"] for name, spec in _DATA["category_rules"].items()})
CATEGORIES: tuple[str, ...] = (*BANNED_TERMS, *CATEGORY_RULES)


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

    def __init__(self, extra_allow: Iterable[str] = (), extra_terms: dict[str, Sequence[str]] | None = None,
                 extension: TextExtension | None = None) -> None:
        """``extension``: a team's extension file (allow, banned, category_rules) on top of the built-ins."""
        self._auto = ahocorasick.Automaton()
        extra_terms = {k: list(v) for k, v in (extra_terms or {}).items()}
        extra_allow = list(extra_allow)
        rules = dict(CATEGORY_RULES)
        if extension is not None:
            for cat, added in extension.banned.items():
                extra_terms[cat] = [*extra_terms.get(cat, []), *added]
            extra_allow += extension.allow
            rules.update(extension.category_rules)
        self.rules = {name: tuple(normalize(k) for k in rule.applies_to) for name, rule in rules.items()}
        self._applies: dict[str, frozenset[str]] = {}
        entries: dict[str, tuple[str, str, bool]] = {}  # normalized key -> (term, category | "", ascii)
        sources: list[tuple[str, Sequence[str]]] = [
            *BANNED_TERMS.items(), *extra_terms.items(), *((n, r.terms) for n, r in rules.items())]
        for cat, terms in sources:
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
        if any(b[3] in self.rules for b in bans):
            applies = self._rules_for(item.category if item is not None else "")
            bans = [b for b in bans if b[3] not in self.rules or b[3] in applies]
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

    def flagged_candidates(self, norms: Sequence[str]) -> set[int]:
        """Indices of the normalized texts in which any term or allowlisted compound occurs: one
        Aho-Corasick pass over all texts joined by NUL (no term holds one), so the per-text check
        runs only where something matched."""
        if not norms:
            return set()
        joined = "\0".join(norms)
        ends = np.cumsum([len(t) + 1 for t in norms])
        hit_ends = np.fromiter((end for end, _ in self._auto.iter(joined)), dtype=np.int64)
        return set(np.searchsorted(ends, hit_ends, side="right").tolist())

    def _rules_for(self, category: str) -> frozenset[str]:
        """The category rules that apply to an item category (none for an unknown category)."""
        hit = self._applies.get(category)
        if hit is None:
            cat = normalize(category)
            hit = frozenset(n for n, keys in self.rules.items() if cat and any(k and k in cat for k in keys))
            self._applies[category] = hit
        return hit

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

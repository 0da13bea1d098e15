"""Attribute value lexicons: every value the catalog can hold, found by longest-match Aho-Corasick.

Built from abkit.world.vocab (docs/text.md, Vocabularies) plus the values seen in the ingested items'
`attributes` JSON, so a catalog with its own values is covered too. Each lexicon key (normalized,
case-folded) maps to the attribute names it can be a value of. Season values get their common
surface forms (冬季 → 冬天/冬款/冬装). Generic promotion words (打折, 优惠, 领券...) are entries
of the pseudo-attribute 促销.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import NamedTuple

import ahocorasick

from abkit.text.normalize import normalize
from abkit.world import vocab

# Attribute kinds whose value is single-valued: mentioning another value contradicts the item.
EXCLUSIVE_KINDS = frozenset({"material", "season", "origin", "fit", "binding", "rating", "sales", "color", "texture",
                             "skin_type", "age_range", "flavour", "storage"})
SEASON_FORMS = {"春季": ["春天", "春款", "春装"], "夏季": ["夏天", "夏款", "夏装"], "秋季": ["秋天", "秋款", "秋装"],
                "冬季": ["冬天", "冬款", "冬装"], "四季": ["四季款", "四季通用"]}
SYNONYMS: list[frozenset[str]] = [frozenset({"纯棉", "全棉", "100%棉", "100%纯棉"})]
PROMO_WORDS = ["打折", "折扣", "优惠", "特价", "降价", "领券", "券后", "促销", "满减", "直降", "立减", "限时直降", "秒杀"]


class Mention(NamedTuple):
    key: str  # normalized lexicon value (canonical form for aliases)
    attrs: tuple[str, ...]
    start: int
    end: int


def attribute_kind(attr: str) -> str:
    return vocab.ATTRIBUTE_KINDS.get(attr, "other")


@functools.lru_cache(maxsize=65536)
def canonical(value: str) -> frozenset[str]:
    """The value and its synonyms (normalized)."""
    key = normalize(value)
    for group in SYNONYMS:
        if key in group:
            return group
    return frozenset({key})


class ValueLexicon:
    """value -> attribute names, matched longest-first over normalize(text)."""

    def __init__(self, extra: Mapping[str, Iterable[str]] | None = None) -> None:
        values: dict[str, set[str]] = {}
        aliases: dict[str, str] = {}

        def add(attr: str, value: str) -> None:
            key = normalize(value)
            if len(key) < 2 or (key.isascii() and key.isdigit()):
                return
            values.setdefault(key, set()).add(attr)

        for attr, vals in vocab.value_lexicon().items():
            for v in vals:
                add(attr, v)
        for attr, vals in (extra or {}).items():
            if attr in (vocab.PRICE_ATTRIBUTE,):
                continue
            for v in vals:
                add(attr, v)
        for season, forms in SEASON_FORMS.items():
            for form in forms:
                aliases[normalize(form)] = normalize(season)
        for word in PROMO_WORDS:
            add(vocab.PROMO_ATTRIBUTE, word)
        self.values = {k: tuple(sorted(v)) for k, v in values.items()}
        self._auto = ahocorasick.Automaton()
        for key, attrs in self.values.items():
            self._auto.add_word(key, (key, attrs, len(key), key.isascii()))
        for alias, target in aliases.items():
            if target in self.values and alias not in self.values:
                self._auto.add_word(alias, (target, self.values[target], len(alias), False))
        self._auto.make_automaton()

    def mentions(self, lowered: str) -> list[Mention]:
        """Leftmost-longest, non-overlapping mentions in a normalized, case-folded string."""
        found: list[Mention] = []
        n = len(lowered)
        for end, (key, attrs, length, is_ascii) in self._auto.iter_long(lowered):
            start = end + 1 - length
            if is_ascii and ((start > 0 and lowered[start - 1].isascii() and lowered[start - 1].isalnum()) or
                             (end + 1 < n and lowered[end + 1].isascii() and lowered[end + 1].isalnum())):
                continue
            found.append(Mention(key, attrs, start, end + 1))
        return found


def lexicon_from_items(items: Iterable[object]) -> dict[str, set[str]]:
    """attribute -> values seen in the items (ItemFacts)."""
    out: dict[str, set[str]] = {}
    for it in items:
        for attr, value in getattr(it, "attributes", {}).items():
            out.setdefault(attr, set()).add(value)
    return out

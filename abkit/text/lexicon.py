"""Attribute value lexicon mined from the catalog's own items, matched by longest-match Aho-Corasick.

Every attribute key's observed values (split on / 、 , ;) become entries, together with their
variant spellings: the value's core with a generic suffix stripped and re-attached within its
family (春秋款 → 春秋/春秋季/春秋天; 奶白色 → 奶白; 海盐味 → 海盐/海盐口味; 北欧风 → 北欧), and the
members of a synonym group (纯棉 = 全棉 = 100%棉). A new catalog therefore works without code
edits; a lexicon extension (abkit.text.extension) adds synonym groups, values per key or per
category, multi-valued / style keys and subjective words. The built-in defaults live in
text_lexicon.json and know nothing about any particular catalog; its generic value sets for
common keys (材质, 颜色, 产地, 口味) join a key only when the catalog itself uses that key.

Comparison uses ``canon``: NFKC + case fold, digit ranges as "a-b", the suffix stripped, then
the synonym group's representative.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from itertools import chain
from typing import Any, NamedTuple

import ahocorasick
import numpy as np

from abkit.text.normalize import normalize

_BUILTIN: dict[str, Any] = json.loads(
    resources.files("abkit.text").joinpath("text_lexicon.json").read_text(encoding="utf-8"))

PROMO_ATTRIBUTE = "促销"  # the attributes key that holds an item's promotions (满199减30 ...)
PRICE_ATTRIBUTE = "价格"
PROMO_WORDS = ["打折", "折扣", "优惠", "特价", "降价", "领券", "券后", "促销", "满减", "直降", "立减", "限时直降", "秒杀"]
VALUE_SEPARATORS = re.compile(r"\s*[/、,，;；|]\s*")
_HAS_DIGIT = re.compile(r"[0-9]")
_CODE_UNIT = re.compile(r"^([a-z]+[0-9]+)(mm|cm|m)$")  # pu3000mm -> pu3000


def split_value(value: str) -> list[str]:
    """An attribute value's parts ("燃气灶/电磁炉" -> two values)."""
    return [p for p in VALUE_SEPARATORS.split(value.strip()) if p]


@dataclass
class LexiconConfig:
    """Synonyms, suffix families, key roles and subjective words: built-ins merged with an extension."""

    synonyms: list[frozenset[str]] = field(default_factory=list)
    suffix_families: dict[str, list[str]] = field(default_factory=dict)
    season_cores: frozenset[str] = frozenset()
    prefixes: list[str] = field(default_factory=list)
    color_heads: list[str] = field(default_factory=list)  # 蓝 + 墨水: a one-character colour before a head noun
    multi_valued_keys: set[str] = field(default_factory=set)
    style_keys: set[str] = field(default_factory=set)
    subjective: set[str] = field(default_factory=set)
    values: dict[str, set[str]] = field(default_factory=dict)  # key -> extra values (all categories)
    category_values: dict[str, dict[str, set[str]]] = field(default_factory=dict)  # category -> key -> values

    @classmethod
    def builtin(cls) -> LexiconConfig:
        b = _BUILTIN
        return cls(
            synonyms=[frozenset(normalize(w) for w in g) for g in b["synonyms"]],
            suffix_families={k: [normalize(s) for s in v] for k, v in b["suffix_families"].items()},
            season_cores=frozenset(b["season_cores"]),
            prefixes=sorted((normalize(w) for w in b["prefixes"]), key=len, reverse=True),
            color_heads=[normalize(w) for w in b["color_heads"]],
            multi_valued_keys=set(b["multi_valued_keys"]),
            style_keys=set(b["style_keys"]),
            subjective={normalize(w) for w in b["subjective"]},
        )

    def merged(self, other: LexiconConfig | None) -> LexiconConfig:
        if other is None:
            return self
        values = {k: set(v) for k, v in self.values.items()}
        for k, v in other.values.items():
            values.setdefault(k, set()).update(v)
        cats = {c: {k: set(v) for k, v in kv.items()} for c, kv in self.category_values.items()}
        for c, kv in other.category_values.items():
            for k, v in kv.items():
                cats.setdefault(c, {}).setdefault(k, set()).update(v)
        return LexiconConfig(
            synonyms=[*self.synonyms, *other.synonyms],
            suffix_families={**self.suffix_families, **other.suffix_families},
            season_cores=self.season_cores | other.season_cores,
            prefixes=sorted({*self.prefixes, *other.prefixes}, key=len, reverse=True),
            color_heads=[*self.color_heads, *(h for h in other.color_heads if h not in self.color_heads)],
            multi_valued_keys=self.multi_valued_keys | other.multi_valued_keys,
            style_keys=self.style_keys | other.style_keys,
            subjective=self.subjective | {normalize(w) for w in other.subjective},
            values=values, category_values=cats,
        )


class Mention(NamedTuple):
    key: str  # canonical value (see canon)
    attrs: tuple[str, ...]  # attribute keys it is a value of
    start: int
    end: int


class ValueLexicon:
    """Observed attribute values + variants -> attribute keys, matched longest-first over normalize(text)."""

    def __init__(self, values: Mapping[str, Iterable[str]] | None = None, config: LexiconConfig | None = None,
                 category_values: Mapping[str, Mapping[str, Iterable[str]]] | None = None) -> None:
        self.config = LexiconConfig.builtin().merged(config)
        cfg = self.config
        self._group: dict[str, str] = {}
        for group in cfg.synonyms:
            rep = min(group, key=lambda w: (len(w), w)) if not any(len(w) > 1 for w in group) else \
                sorted(w for w in group if len(w) > 1)[0]
            for w in group:
                self._group.setdefault(w, rep)
        self._suffixes = sorted({s for fam in cfg.suffix_families.values() for s in fam}, key=len, reverse=True)
        self._family_of = {s: fam for fam in cfg.suffix_families.values() for s in fam}
        others = {s for name, fam in cfg.suffix_families.items() if name != "season" for s in fam}
        self._season_only = {s for s in cfg.suffix_families.get("season", []) if s not in others}
        self._canon_cache: dict[str, str] = {}
        self._parts_cache: dict[str, frozenset[str]] = {}
        surfaces: dict[str, set[str]] = {}  # normalized surface -> attribute keys
        surface_canon: dict[str, str] = {}  # normalized surface -> canonical value it spells
        self.attr_values: dict[str, set[str]] = {}  # key -> canonical values observed
        self.multi_valued: set[str] = set(cfg.multi_valued_keys)
        self.style_keys: set[str] = set(cfg.style_keys)

        def add(attr: str, raw: str) -> None:
            parts = split_value(raw)
            if len(parts) > 1:
                self.multi_valued.add(attr)
            for part in parts:
                key = self.canon(part)
                for form in self.variants(part):
                    if len(form) >= 2 and not (form.isascii() and form.replace(".", "").isdigit()):
                        surfaces.setdefault(form, set()).add(attr)
                        surface_canon.setdefault(form, key)
                self.attr_values.setdefault(attr, set()).add(key)

        mined = dict(values or {})
        # generic value sets of common keys (材质, 颜色, 产地, 口味) join only keys the catalog itself uses
        generic = {k: v for k, v in _BUILTIN.get("generic_values", {}).items() if k in mined or k in cfg.values}
        for source in mined, cfg.values, generic:
            for attr, vals in source.items():
                if attr == PRICE_ATTRIBUTE:
                    continue
                for v in vals:
                    add(attr, str(v))
        self.category_attrs: dict[tuple[str, str], tuple[str, ...]] = {}
        for cats in (category_values or {}), cfg.category_values:
            for cat, kv in cats.items():
                for attr, vals in kv.items():
                    for v in vals:
                        add(attr, str(v))
                        for form in self.variants(str(v)):
                            prev = self.category_attrs.get((cat, form), ())
                            self.category_attrs[(cat, form)] = tuple(sorted({*prev, attr}))
        for word in PROMO_WORDS:
            surfaces.setdefault(normalize(word), set()).add(PROMO_ATTRIBUTE)
        self.values = {k: tuple(sorted(v)) for k, v in surfaces.items()}
        self.subjective = frozenset(cfg.subjective)
        self._auto = ahocorasick.Automaton()
        self.entries: list[tuple[str, tuple[str, ...], int, bool, str]] = []  # (key, attrs, length, ascii, surface)
        for surface, attrs in self.values.items():
            key = surface_canon.get(surface) or self.canon(surface)
            self.entries.append((key, attrs, len(surface), surface.isascii(), surface))
        for word in self.subjective:
            if word not in self.values:
                self.entries.append((word, (), len(word), word.isascii(), word))
        for k, entry in enumerate(self.entries):
            self._auto.add_word(entry[4], k)
        self._entry_length = np.array([e[2] for e in self.entries], np.int64)
        self._entry_ascii = np.array([e[3] for e in self.entries], bool)
        self._empty = len(self._auto) == 0
        if not self._empty:
            self._auto.make_automaton()

    # ------------------------------------------------------------------ spelling variants
    def _strip(self, value: str) -> tuple[str, list[str]]:
        """(core, stripped suffixes) of a normalized value; values with digits keep their unit."""
        core, stripped = value, []
        for pre in self.config.prefixes:
            if core.startswith(pre) and len(core) - len(pre) >= 2:
                core = core[len(pre):]
                break
        if _HAS_DIGIT.search(value):
            return core, []
        changed = True
        while changed:
            changed = False
            for s in self._suffixes:
                if core.endswith(s) and len(core) > len(s):
                    if s in self._season_only and core[: -len(s)] not in self.config.season_cores:
                        continue
                    core, changed = core[: -len(s)], True
                    stripped.append(s)
                    break
        return core, stripped

    def variants(self, value: str) -> set[str]:
        """Normalized spellings of one value: itself, its core, core + family suffixes, synonyms."""
        norm = range_dash(normalize(value))
        out = {norm}
        core, stripped = self._strip(norm)
        out.add(core)
        families = [self._family_of[s] for s in stripped]
        if core in self.config.season_cores:
            families.append(self.config.suffix_families.get("season", []))
        for fam in families:
            out.update(core + s for s in fam)
        if len(core) == 1 and "色" in stripped:  # 黑色 -> 黑墨水, 黑笔芯 (never the bare character)
            out.update(core + h for h in self.config.color_heads)
        m = _CODE_UNIT.match(norm)
        if m:
            out.add(m.group(1))
        rep = self._group.get(core) or self._group.get(norm)
        if rep is not None:
            for group in self.config.synonyms:
                if rep in group:
                    out.update(group)
        return {v for v in out if v}

    def canon(self, value: str) -> str:
        """The comparison key of a value: normalized, suffix stripped, synonym representative."""
        hit = self._canon_cache.get(value)
        if hit is not None:
            return hit
        norm = range_dash(normalize(value))
        m = _CODE_UNIT.match(norm)
        core, _ = self._strip(m.group(1) if m else norm)
        out = self._group.get(core) or self._group.get(norm) or core
        if len(self._canon_cache) < 200_000:
            self._canon_cache[value] = out
        return out

    def canon_parts(self, value: str) -> frozenset[str]:
        """``canon`` of each part of an attribute value (split_value); catalog values repeat, so cached."""
        hit = self._parts_cache.get(value)
        if hit is None:
            hit = frozenset(self.canon(part) for part in split_value(value))
            if len(self._parts_cache) < 200_000:
                self._parts_cache[value] = hit
        return hit

    # ------------------------------------------------------------------ matching
    def mentions(self, lowered: str) -> list[Mention]:
        """Leftmost-longest, non-overlapping mentions in a normalized, case-folded string.

        Subjective words come back with ``attrs == ()``."""
        if self._empty:
            return []
        return [Mention(key, attrs, start, end) for key, attrs, start, end in self._scan(lowered)]

    def _scan(self, text: str) -> Iterator[tuple[str, tuple[str, ...], int, int]]:
        """(key, attrs, start, end) of the automaton's leftmost-longest hits; an ASCII entry must not be
        glued to other ASCII letters or digits (pu3000 is not inside pu30000)."""
        n = len(text)
        entries = self.entries
        for end, k in self._auto.iter_long(text):
            key, attrs, length, is_ascii, _surface = entries[k]
            start = end + 1 - length
            if is_ascii and ((start > 0 and text[start - 1].isascii() and text[start - 1].isalnum()) or
                             (end + 1 < n and text[end + 1].isascii() and text[end + 1].isalnum())):
                continue
            yield key, attrs, start, end + 1

    def mentions_many(self, lowered: list[str]) -> list[list[Mention]]:
        """``mentions`` of every string, from one leftmost-longest pass over all of them joined by NUL."""
        out: list[list[Mention]] = [[] for _ in lowered]
        if self._empty or not lowered:
            return out
        joined = "\0".join(lowered)
        entries = self.entries
        hits = [(end, entries[k]) for end, k in self._auto.iter_long(joined)]
        if not hits:
            return out
        starts = np.cumsum([0] + [len(t) + 1 for t in lowered[:-1]])
        ends = np.fromiter((h[0] for h in hits), np.int64, len(hits))
        owner = np.searchsorted(starts, ends, side="right") - 1
        n = len(joined)
        for (end, (key, attrs, length, is_ascii, _surface)), k, b in zip(hits, owner.tolist(), starts[owner].tolist(),
                                                                        strict=True):
            start = end + 1 - length
            if is_ascii and ((start > 0 and joined[start - 1].isascii() and joined[start - 1].isalnum()) or
                             (end + 1 < n and joined[end + 1].isascii() and joined[end + 1].isalnum())):
                continue  # same rule as _scan (NUL is neither a letter nor a digit)
            out[k].append(Mention(key, attrs, start - b, end + 1 - b))
        return out

    def mention_arrays(self, joined: str) -> tuple[np.ndarray, np.ndarray]:
        """(end offset, entry index) of the leftmost-longest mentions in a string of texts joined by NUL,
        as ``mentions`` finds them in each text (``entries[k]`` = key, attrs, length, ascii, surface)."""
        if self._empty or not joined:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        hits = list(self._auto.iter_long(joined))
        flat = np.fromiter(chain.from_iterable(hits), np.int64, 2 * len(hits)).reshape(-1, 2)
        end, entry = flat[:, 0] + 1, flat[:, 1]
        n = len(joined)
        keep = np.ones(len(hits), bool)
        for i in np.flatnonzero(self._entry_ascii[entry]).tolist():  # same rule as _scan
            e = int(end[i])
            s = e - int(self._entry_length[entry[i]])
            if (s > 0 and joined[s - 1].isascii() and joined[s - 1].isalnum()) or (
                    e < n and joined[e].isascii() and joined[e].isalnum()):
                keep[i] = False
        return end[keep], entry[keep]

    def attrs_in_category(self, category: str, surface: str, attrs: tuple[str, ...]) -> tuple[str, ...]:
        """The keys a surface belongs to for an item of ``category`` (category value sets win)."""
        return self.category_attrs.get((category, surface), attrs) if self.category_attrs else attrs


_RANGE = re.compile(r"(?<=[0-9])\s*[~～〜到至]\s*(?=[0-9])")
_RANGE_CHAR = re.compile(r"[~～〜到至]")


def range_dash(text: str) -> str:
    """0~6个月 / 0到6个月 -> 0-6个月."""
    return _RANGE.sub("-", text) if _RANGE_CHAR.search(text) else text


def lexicon_from_items(items: Iterable[object]) -> dict[str, set[str]]:
    """attribute -> values seen in the items (ItemFacts)."""
    out: dict[str, set[str]] = {}
    for it in items:
        for attr, value in getattr(it, "attributes", {}).items():
            out.setdefault(attr, set()).add(value)
    return out

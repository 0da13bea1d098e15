"""Faithfulness of a reason to its item's structured facts (docs/interface.md, Analysis JSON ``unfaithful_rate``).

Claims come from two extractors over the normalized text: attribute values found by the value
lexicon (materials, seasons, origins, selling points, ...) and numeric patterns (price, X折,
满X减Y, 直降X元, capacities and other specs with units, see numeric.py). Each claim is
- supported: the item's attributes/title hold it (numbers compared in canonical units;
  the price may be the list price, the effective price price × (1 − discount), or a price after
  one of the item's own promotions);
- contradicted: it conflicts with the item — a promotion the item lacks (or with other
  numbers), a wrong price, a different value of a single-valued attribute (材质, 季节, 产地, ...)
  or a spec the item states differently (20000mAh on a 10000mAh power bank);
- unsupported: neither (the item says nothing about it).
A text is unfaithful when it has at least one contradicted claim.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from abkit.text.items import ItemFacts, as_item
from abkit.text.lexicon import EXCLUSIVE_KINDS, PROMO_WORDS, ValueLexicon, attribute_kind, canonical
from abkit.text.normalize import normalize, normalize_both
from abkit.text.numeric import DISCOUNT_KINDS, PRICE_KIND, NumClaim, extract_numeric
from abkit.world import vocab

_PROMO_WORD_KEYS = frozenset(normalize(w) for w in PROMO_WORDS)


class Claim(NamedTuple):
    kind: str  # "attr" for a lexicon value, else the numeric kind (price, zhe, mah, ...)
    surface: str
    value: Any
    start: int
    end: int
    attribute: str | None  # the item attribute that supports / contradicts it
    note: str = ""  # why: the item's value, or "item has no discount"


@dataclass(frozen=True)
class FaithResult:
    contradicted: list[Claim]
    unsupported: list[Claim]
    supported: list[Claim] = field(default_factory=list)
    covered: frozenset[str] = frozenset()  # item attributes the text mentions
    n_attributes: int = 0

    @property
    def unfaithful(self) -> bool:
        return bool(self.contradicted)

    @property
    def coverage(self) -> float | None:
        return None if self.n_attributes == 0 else len(self.covered) / self.n_attributes


@dataclass
class _Profile:
    item: ItemFacts
    own: list[tuple[str, str]]  # (attribute or "title"/"brand", normalized value)
    attr_lower: dict[str, str]
    nums: dict[str, list[tuple[Any, str]]]  # kind -> [(value, attribute)]
    has_discount: bool
    prices: list[float]
    promo_note: str


@functools.lru_cache(maxsize=65536)
def _value_facts(value: str) -> tuple[str, tuple[tuple[str, Any], ...]]:
    """(normalized value, its numeric facts); catalog values repeat, so this is cached."""
    cased, norm = normalize_both(value)
    return norm, tuple((c.kind, c.value) for c in extract_numeric(cased))


def _profile(item: ItemFacts) -> _Profile:
    own: list[tuple[str, str]] = []
    nums: dict[str, list[tuple[Any, str]]] = {}
    for attr, value in [*item.attributes.items(), ("title", item.title), ("brand", item.brand)]:
        if not value:
            continue
        norm, facts = _value_facts(value)
        own.append((attr, norm))
        for kind, val in facts:
            nums.setdefault(kind, []).append((val, attr))
    promo_attr = vocab.PROMO_ATTRIBUTE
    if item.discount > 0:
        nums.setdefault("zhe", []).append((round((1.0 - item.discount) * 10, 1), "discount"))
        if item.price is not None:
            nums.setdefault("zhijiang", []).append((item.price * item.discount, "discount"))
    prices: list[float] = []
    if item.price is not None:
        base = [item.price, item.price * (1.0 - item.discount)]
        base += [item.price * z / 10 for z, _ in nums.get("zhe", [])]
        prices = list(base)
        for b in base:
            prices += [b - off for (_a, off), _ in nums.get("manjian", [])]
            prices += [b - off for off, src in nums.get("zhijiang", []) if src != "discount"]
            prices += [b - off for off, _ in nums.get("coupon", [])]
    has_discount = any(k in DISCOUNT_KINDS for k in nums)
    promos = [f"{round((1 - item.discount) * 10, 1):g}折"] if item.discount > 0 else []
    promos += [v for a, v in item.attributes.items() if a == promo_attr]
    note = "item promotions: " + "、".join(promos) if promos else "item has no discount or promotion"
    return _Profile(item, own, {a: v for a, v in own if a in item.attributes}, nums, has_discount, prices, note)


def _close(a: float, b: float, tol: float = 1e-6) -> bool:
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


class FaithfulnessChecker:
    """Extracts claims and compares them with the item; build once, reuse (automaton + regex)."""

    def __init__(self, items: Iterable[Any] | None = None, lexicon: ValueLexicon | None = None) -> None:
        facts = [as_item(it) for it in items] if items is not None else []
        extra: dict[str, set[str]] = {}
        for it in facts:
            for attr, value in it.attributes.items():
                extra.setdefault(attr, set()).add(value)
        self.lexicon = lexicon or ValueLexicon(extra)
        self._cache: dict[Any, _Profile] = {}

    def profile(self, item: Any) -> _Profile:
        it = as_item(item)
        key = (it.item_id, it.price, it.discount, it.title, it.brand, tuple(sorted(it.attributes.items())))
        prof = self._cache.get(key)
        if prof is None:
            if len(self._cache) > 200_000:
                self._cache.clear()
            prof = self._cache[key] = _profile(it)
        return prof

    # ------------------------------------------------------------------ numeric claims
    def _judge_numeric(self, c: NumClaim, p: _Profile) -> tuple[str, Claim]:
        facts = p.nums.get(c.kind, [])
        if c.kind == PRICE_KIND:
            eff = p.item.effective_price
            if eff is None:
                return "unsupported", Claim(c.kind, c.surface, c.value, c.start, c.end, None, "item has no price")
            ok = any(abs(c.value - q) <= max(0.11, 0.01 * q) for q in p.prices)
            note = f"item price {p.item.price:g}, effective {eff:.2f}"
            return ("supported" if ok else "contradicted"), Claim(c.kind, c.surface, c.value, c.start, c.end, "价格", note)
        if c.kind in DISCOUNT_KINDS:
            tol = 0.05 if c.kind == "zhe" else (0.5 if c.kind == "zhijiang" else 1e-6)
            for value, attr in facts:
                same = value == c.value if isinstance(value, tuple) else abs(float(value) - float(c.value)) <= tol
                if same:
                    return "supported", Claim(c.kind, c.surface, c.value, c.start, c.end, attr)
            return "contradicted", Claim(c.kind, c.surface, c.value, c.start, c.end, vocab.PROMO_ATTRIBUTE, p.promo_note)
        for value, attr in facts:
            if (value == c.value) if isinstance(value, str) else _close(float(value), float(c.value)):
                return "supported", Claim(c.kind, c.surface, c.value, c.start, c.end, attr)
        if facts:
            note = "item: " + "、".join(f"{a}={p.item.attributes.get(a, p.item.title)}" for _, a in facts[:3])
            return "contradicted", Claim(c.kind, c.surface, c.value, c.start, c.end, facts[0][1], note)
        return "unsupported", Claim(c.kind, c.surface, c.value, c.start, c.end, None, f"item states no {c.kind}")

    # ------------------------------------------------------------------ lexicon claims
    def _judge_mention(self, key: str, attrs: tuple[str, ...], start: int, end: int, surface: str,
                       p: _Profile) -> tuple[str, Claim]:
        if key in _PROMO_WORD_KEYS and vocab.PROMO_ATTRIBUTE in attrs:
            verdict = "supported" if p.has_discount else "unsupported"
            return verdict, Claim("promo_word", surface, key, start, end, vocab.PROMO_ATTRIBUTE,
                                  "" if p.has_discount else p.promo_note)
        forms = canonical(key)
        for attr, value in p.own:
            if (key in value if len(forms) == 1 else any(f in value for f in forms)) or (
                    len(value) >= 2 and value in key):
                return "supported", Claim("attr", surface, key, start, end, attr)
        if "季节" in attrs and "四季" in p.attr_lower.get("季节", ""):
            return "supported", Claim("attr", surface, key, start, end, "季节")
        clash = [a for a in attrs if a in p.attr_lower and attribute_kind(a) in EXCLUSIVE_KINDS]
        if clash:
            a = clash[0]
            return "contradicted", Claim("attr", surface, key, start, end, a, f"item {a}={p.item.attributes[a]}")
        return "unsupported", Claim("attr", surface, key, start, end, None, f"not among the item's {'/'.join(attrs)}")

    def check(self, text: str, item: Any) -> FaithResult:
        """Claims in ``text`` judged against ``item`` (dict, row, ReasonRequest or ItemFacts)."""
        return self._check(text, self.profile(item))

    def _check(self, text: str, p: _Profile) -> FaithResult:
        return self.check_cased(normalize(text, casefold=False, keep_spaces=True), p)

    def check_cased(self, cased: str, p: _Profile) -> FaithResult:
        """``check`` on normalize(text, casefold=False, keep_spaces=True) with a profile()."""
        lowered = cased.lower()
        nums = extract_numeric(cased)
        buckets: dict[str, list[Claim]] = {"supported": [], "contradicted": [], "unsupported": []}
        for c in nums:
            verdict, claim = self._judge_numeric(c, p)
            buckets[verdict].append(claim)
        for m in self.lexicon.mentions(lowered if len(lowered) == len(cased) else cased):
            if any(c.start < m.end and m.start < c.end for c in nums):
                continue
            verdict, claim = self._judge_mention(m.key, m.attrs, m.start, m.end, cased[m.start:m.end], p)
            buckets[verdict].append(claim)
        covered = {c.attribute for c in buckets["supported"] if c.attribute in p.item.attributes}
        for attr, value in p.attr_lower.items():
            if attr not in covered and value and value in lowered:
                covered.add(attr)
        return FaithResult(buckets["contradicted"], buckets["unsupported"], buckets["supported"],
                           frozenset(covered), len(p.item.attributes))

    def check_many(self, texts: Sequence[str], items: Sequence[Any]) -> list[FaithResult]:
        """One result per (text, item); item profiles are computed once per distinct item object."""
        profiles: dict[int, _Profile] = {}
        out = []
        for text, item in zip(texts, items, strict=True):
            prof = profiles.get(id(item))
            if prof is None:
                prof = profiles[id(item)] = self.profile(item)
            out.append(self._check(text, prof))
        return out

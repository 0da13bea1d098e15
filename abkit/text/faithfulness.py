"""Faithfulness of a reason to its item's structured facts (docs/interface.md, Analysis JSON ``unfaithful_rate``).

Faithfulness is contradiction, judged per attribute. Claims come from two extractors over the
normalized text: attribute values found by the value lexicon (mined from the catalog's own items,
with variant spellings and synonyms, see lexicon.py) and numeric patterns (price, X折, 20% off,
满X减Y, capacities, weights, lengths, shelf life, counts, see numeric.py). Each claim is
- supported: the item holds it (values compared after canonicalization, numbers in canonical
  units; the price may be the list price, the effective price price × (1 − discount), or a price
  after one of the item's own promotions);
- contradicted: it states a value for an attribute (or a number of a kind) the item has, and the
  item's value differs — a wrong price, a promotion the item lacks, another value of a
  single-valued key, a spec stated differently (20000mAh on a 10000mAh power bank);
- unsupported: a checkable factual claim the item has no attribute for (a value of a key the item
  lacks, a number of a kind the item states nothing about, another value of a multi-valued key);
- subjective: a style / opinion word (简约, 显瘦, 高级感) or a value of a style key the item lacks —
  never unsupported, never contradicted.
A text is unfaithful when it has at least one contradicted claim; nothing is said about text the
item does not mention.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from abkit.text.extension import TextExtension
from abkit.text.items import ItemFacts, as_item
from abkit.text.lexicon import PROMO_ATTRIBUTE, PROMO_WORDS, Mention, ValueLexicon, range_dash
from abkit.text.normalize import normalize, normalize_both
from abkit.text.numeric import DISCOUNT_KINDS, PRICE_KIND, NumClaim, extract_numeric

PROMO_WORD_KEYS = frozenset(normalize(w) for w in PROMO_WORDS)


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
    subjective: list[Claim] = field(default_factory=list)

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
    canon: dict[str, frozenset[str]]  # attribute -> canonical values of its parts
    canon_attr: dict[str, str]  # canonical value -> the attribute holding it
    nums: dict[str, list[tuple[Any, str]]]  # kind -> [(value, attribute)]
    has_discount: bool
    prices: list[float]
    promo_note: str


@functools.lru_cache(maxsize=65536)
def _value_facts(value: str, key: str = "") -> tuple[str, tuple[tuple[str, Any], ...]]:
    """(normalized value, its numeric facts); the key gives a bare value its context (保质期 + 180天).
    Catalog values repeat, so this is cached."""
    cased, norm = normalize_both(value)
    cased = range_dash(cased)
    facts = {(c.kind, c.value) for c in extract_numeric(cased)}
    if key and key not in ("title", "brand"):
        with_key = range_dash(normalize_both(key + value)[0])
        facts |= {(c.kind, c.value) for c in extract_numeric(with_key)}
    return norm, tuple(sorted(facts, key=repr))


def _profile(item: ItemFacts, lexicon: ValueLexicon) -> _Profile:
    own: list[tuple[str, str]] = []
    nums: dict[str, list[tuple[Any, str]]] = {}
    canon: dict[str, frozenset[str]] = {}
    for attr, value in [*item.attributes.items(), ("title", item.title), ("brand", item.brand)]:
        if not value:
            continue
        norm, facts = _value_facts(value, attr)
        own.append((attr, norm))
        if attr in item.attributes:
            canon[attr] = lexicon.canon_parts(value)
        for kind, val in facts:
            nums.setdefault(kind, []).append((val, attr))
    promo_attr = PROMO_ATTRIBUTE
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
    canon_attr = {v: a for a, vs in canon.items() for v in vs}
    return _Profile(item, own, {a: v for a, v in own if a in item.attributes}, canon, canon_attr, nums, has_discount,
                    prices, note)


def _close(a: float, b: float, tol: float = 1e-6) -> bool:
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


def _same_number(fact: Any, claim: Any) -> bool:
    """Equal values; for counts (lo, hi) ranges, overlapping ones (3人 fits 3-4人)."""
    if isinstance(fact, str) or isinstance(claim, str):
        return fact == claim
    if isinstance(fact, tuple) or isinstance(claim, tuple):
        f = fact if isinstance(fact, tuple) else (fact, fact)
        c = claim if isinstance(claim, tuple) else (claim, claim)
        return f[0] - 1e-9 <= c[1] and c[0] <= f[1] + 1e-9
    return _close(float(fact), float(claim))


class FaithfulnessChecker:
    """Extracts claims and compares them with the item; build once, reuse (automaton + regex)."""

    def __init__(self, items: Iterable[Any] | None = None, lexicon: ValueLexicon | None = None,
                 extension: TextExtension | None = None) -> None:
        """``items``: the catalog whose values make the lexicon (mined per key and per category);
        ``extension``: a team's extension file or a caller's extra vocabulary (optional)."""
        facts = [as_item(it) for it in items] if items is not None else []
        mined: dict[str, set[str]] = {}
        per_category: dict[str, dict[str, set[str]]] = {}
        for it in facts:
            for attr, value in it.attributes.items():
                mined.setdefault(attr, set()).add(value)
                if it.category:
                    per_category.setdefault(it.category, {}).setdefault(attr, set()).add(value)
        self.extension = extension
        self.lexicon = lexicon or ValueLexicon(mined, extension.lexicon if extension else None, per_category)
        self._cache: dict[Any, _Profile] = {}

    def profile(self, item: Any) -> _Profile:
        it = as_item(item)
        key = (it.item_id, it.price, it.discount, it.title, it.brand, tuple(sorted(it.attributes.items())))
        prof = self._cache.get(key)
        if prof is None:
            if len(self._cache) > 200_000:
                self._cache.clear()
            prof = self._cache[key] = _profile(it, self.lexicon)
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
            return "contradicted", Claim(c.kind, c.surface, c.value, c.start, c.end, PROMO_ATTRIBUTE, p.promo_note)
        for value, attr in facts:
            if _same_number(value, c.value):
                return "supported", Claim(c.kind, c.surface, c.value, c.start, c.end, attr)
        if facts:
            note = "item: " + "、".join(f"{a}={p.item.attributes.get(a, p.item.title)}" for _, a in facts[:3])
            return "contradicted", Claim(c.kind, c.surface, c.value, c.start, c.end, facts[0][1], note)
        return "unsupported", Claim(c.kind, c.surface, c.value, c.start, c.end, None, f"item states no {c.kind}")

    # ------------------------------------------------------------------ lexicon claims
    def _judge_mention(self, key: str, attrs: tuple[str, ...], start: int, end: int, surface: str,
                       p: _Profile) -> tuple[str, Claim]:
        lex = self.lexicon
        subjective = key in lex.subjective or surface.lower() in lex.subjective
        if not attrs:
            return "subjective", Claim("subjective", surface, key, start, end, None)
        if key in PROMO_WORD_KEYS and PROMO_ATTRIBUTE in attrs:
            verdict = "supported" if p.has_discount else "unsupported"
            return verdict, Claim("promo_word", surface, key, start, end, PROMO_ATTRIBUTE,
                                  "" if p.has_discount else p.promo_note)
        attrs = lex.attrs_in_category(p.item.category, surface.lower(), attrs)
        hit = p.canon_attr.get(key)
        if hit is not None:
            return "supported", Claim("attr", surface, key, start, end, hit)
        for v, attr in p.canon_attr.items():  # one spelling inside the other (铝合金 / 航空铝合金)
            if len(v) >= 2 and (key in v or v in key):
                return "supported", Claim("attr", surface, key, start, end, attr)
        low = surface.lower()
        for attr, value in p.own:
            if attr in ("title", "brand") and len(low) >= 2 and low in value:
                return "supported", Claim("attr", surface, key, start, end, attr)
        held = [a for a in attrs if a in p.canon]
        if not held:
            if subjective or all(a in lex.style_keys for a in attrs):
                return "subjective", Claim("subjective", surface, key, start, end, None)
            return "unsupported", Claim("attr", surface, key, start, end, None, f"item has no {'/'.join(attrs)}")
        if any("四季" in p.canon[a] for a in held) and key in lex.config.season_cores:
            return "supported", Claim("attr", surface, key, start, end, held[0])
        exclusive = [a for a in held if a not in lex.multi_valued]
        if exclusive:
            a = exclusive[0]
            return "contradicted", Claim("attr", surface, key, start, end, a, f"item {a}={p.item.attributes[a]}")
        if subjective:
            return "subjective", Claim("subjective", surface, key, start, end, None)
        return "unsupported", Claim("attr", surface, key, start, end, None, f"not among the item's {'/'.join(held)}")

    def check(self, text: str, item: Any) -> FaithResult:
        """Claims in ``text`` judged against ``item`` (dict, row, ReasonRequest or ItemFacts)."""
        return self._check(text, self.profile(item))

    def _check(self, text: str, p: _Profile) -> FaithResult:
        return self.check_cased(normalize(text, casefold=False, keep_spaces=True), p)

    @staticmethod
    def prepared(cased: str) -> tuple[str, str]:
        """(cased, lowered) as check_cased matches them: digit ranges as a-b, case folded when that keeps offsets."""
        cased = range_dash(cased)
        lowered = cased.lower()
        return cased, (lowered if len(lowered) == len(cased) else cased)

    def check_cased(self, cased: str, p: _Profile, mentions: list[Mention] | None = None,
                    lowered: str | None = None) -> FaithResult:
        """``check`` on normalize(text, casefold=False, keep_spaces=True) with a profile(). A batch pass
        gives ``cased`` already prepared(), its ``lowered`` form and the lexicon's ``mentions`` in it."""
        if lowered is None:
            cased, lowered = self.prepared(cased)
        buckets: dict[str, list[Claim]] = {"supported": [], "contradicted": [], "unsupported": [], "subjective": []}
        judged = [(c, *self._judge_numeric(c, p)) for c in extract_numeric(cased)]
        if mentions is None:
            mentions = self.lexicon.mentions(lowered)
        kept: list[tuple[int, int]] = []
        for c, verdict, claim in judged:
            # a number the item has no kind for, inside a known value (36色 on a 5支装 item): judge the value
            if verdict == "unsupported" and mentions and any(
                    m.attrs and m.start <= c.start and c.end <= m.end for m in mentions):
                continue
            buckets[verdict].append(claim)
            kept.append((c.start, c.end))
        for m in mentions:
            if kept and any(a < m.end and m.start < b for a, b in kept):
                continue
            verdict, claim = self._judge_mention(m.key, m.attrs, m.start, m.end, cased[m.start:m.end], p)
            buckets[verdict].append(claim)
        covered = {c.attribute for c in buckets["supported"] if c.attribute in p.item.attributes}
        for attr, value in p.attr_lower.items():
            if attr not in covered and value and value in lowered:
                covered.add(attr)
        return FaithResult(buckets["contradicted"], buckets["unsupported"], buckets["supported"],
                           frozenset(covered), len(p.item.attributes), buckets["subjective"])

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

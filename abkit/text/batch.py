"""Faithfulness of many (item, text) pairs: claims extracted once per distinct text, verdicts once per item.

``FaithfulnessChecker.check_cased`` judges one pair; this module gives the same FaithResult
fields for a batch. A claim's verdict depends only on the claim (kind and value, or the
lexicon hit and its surface) and the item, so pairs are walked item by item and each verdict
is computed once per (item, claim) and reused for every text of that item. What check_cased
decides from the text alone (a number inside a lexicon value, a value overlapping a number) is
worked out once per text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from abkit.text.faithfulness import Claim, FaithfulnessChecker, _Profile
from abkit.text.lexicon import Mention
from abkit.text.numeric import NumClaim, extract_numeric_many

_NO_OVERLAP: tuple[int, ...] = ()


@dataclass(frozen=True)
class TextClaims:
    """The claims of one text, as check_cased finds them (offsets in the prepared cased string)."""

    lowered: str
    nums: list[NumClaim]
    inside_value: list[bool]  # per number: inside a lexicon value that names attributes
    mentions: list[Mention]
    surfaces: list[str]  # per mention: its cased surface
    overlaps: list[tuple[int, ...]]  # per mention: the numbers it overlaps
    num_keys: list[tuple[str, Any]]  # per number: what its verdict depends on besides the item
    mention_keys: list[tuple[str, tuple[str, ...], str]]  # per mention: the same


def text_claims(faith: FaithfulnessChecker, cased: Sequence[str]) -> list[TextClaims]:
    """TextClaims of each normalize(text, casefold=False, keep_spaces=True) string."""
    prepared = [faith.prepared(c) for c in cased]
    mentions = faith.lexicon.mentions_many([low for _, low in prepared])
    nums = extract_numeric_many([c for c, _ in prepared])
    out = []
    for (pcased, lowered), ms, ns in zip(prepared, mentions, nums, strict=True):
        surfaces = [pcased[m.start:m.end] for m in ms]
        if ns and ms:
            inside = [any(m.attrs and m.start <= c.start and c.end <= m.end for m in ms) for c in ns]
            overlaps = [tuple(k for k, c in enumerate(ns) if c.start < m.end and m.start < c.end) for m in ms]
        else:
            inside = [False] * len(ns)
            overlaps = [_NO_OVERLAP] * len(ms)
        out.append(TextClaims(lowered, ns, inside, ms, surfaces, overlaps, [(c.kind, c.value) for c in ns],
                              [(m.key, m.attrs, s) for m, s in zip(ms, surfaces, strict=True)]))
    return out


class PairVerdict(NamedTuple):
    """check_cased's FaithResult, reduced to what pair scoring keeps."""

    contradicted: list[Claim]
    unsupported: list[Claim]
    supported: list[Claim] | None  # only when asked for
    subjective: bool
    n_covered: int
    mentions_promo: bool


class ItemJudge:
    """Judges texts for one item, remembering each claim's verdict (see module doc)."""

    def __init__(self, faith: FaithfulnessChecker, profile: _Profile, promo_kinds: frozenset[str]) -> None:
        self.faith, self.p = faith, profile
        self.attributes = profile.item.attributes
        self.attr_lower = [(a, v) for a, v in profile.attr_lower.items() if v]
        self.promo_kinds = promo_kinds
        self._num: dict[tuple[str, Any], tuple[str, str | None, str]] = {}
        self._men: dict[tuple[str, tuple[str, ...], str], tuple[str, str, str | None, str]] = {}

    def judge(self, t: TextClaims, keep_supported: bool) -> PairVerdict:
        contradicted: list[Claim] = []
        unsupported: list[Claim] = []
        supported: list[Claim] | None = [] if keep_supported else None
        covered: set[str] = set()
        subjective = promo = False
        if not t.nums and not t.mentions:
            lowered = t.lowered
            covered.update([attr for attr, value in self.attr_lower if value in lowered])
            return PairVerdict(contradicted, unsupported, supported, False, len(covered), False)
        kept = [False] * len(t.nums)
        for k, (c, key) in enumerate(zip(t.nums, t.num_keys, strict=True)):
            hit = self._num.get(key)
            if hit is None:
                verdict, claim = self.faith._judge_numeric(c, self.p)
                hit = self._num[key] = (verdict, claim.attribute, claim.note)
            verdict, attr, note = hit
            if verdict == "unsupported" and t.inside_value[k]:
                continue
            kept[k] = True
            promo = promo or c.kind in self.promo_kinds
            if verdict == "supported":
                if attr in self.attributes:
                    covered.add(attr)
                if supported is not None:
                    supported.append(Claim(c.kind, c.surface, c.value, c.start, c.end, attr, note))
            else:
                (contradicted if verdict == "contradicted" else unsupported).append(
                    Claim(c.kind, c.surface, c.value, c.start, c.end, attr, note))
        for m, surface, over, mkey in zip(t.mentions, t.surfaces, t.overlaps, t.mention_keys, strict=True):
            if over and any(kept[k] for k in over):
                continue
            mhit = self._men.get(mkey)
            if mhit is None:
                verdict, claim = self.faith._judge_mention(m.key, m.attrs, m.start, m.end, surface, self.p)
                mhit = self._men[mkey] = (verdict, claim.kind, claim.attribute, claim.note)
            verdict, kind, attr, note = mhit
            if verdict == "subjective":
                subjective = True
                continue
            promo = promo or kind in self.promo_kinds
            if verdict == "supported":
                if attr in self.attributes:
                    covered.add(attr)
                if supported is not None:
                    supported.append(Claim(kind, surface, m.key, m.start, m.end, attr, note))
            else:
                (contradicted if verdict == "contradicted" else unsupported).append(
                    Claim(kind, surface, m.key, m.start, m.end, attr, note))
        lowered = t.lowered
        covered.update([attr for attr, value in self.attr_lower if value in lowered])
        return PairVerdict(contradicted, unsupported, supported, subjective, len(covered), promo)

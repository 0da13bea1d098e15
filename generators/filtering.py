"""The candidate quality filter: compliance + faithfulness + form checks, and a deterministic choice.

Uses the one text checker (abkit.text.scoring.TextChecker, the same as lint-reasons and analyze)
with the synthetic world's vocabulary passed in as an extension: banned 广告法 terms with
allowlist precedence, and claims contradicting the item's facts. On top of those, a
candidate must be complete (ended with <eos>), non-empty, in its length bucket (±2 chars of
slack) and free of immediate stutters ("很很", "超值超值").

The choice among a request's candidates is deterministic: the first candidate (in candidate
order, which is fixed by the request seed) with the best (passes, fewest problems, covers the
persona's priority attribute, in bucket) key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from abkit.text.lengths import LENGTH_BUCKETS
from abkit.text.lexicon import PRICE_ATTRIBUTE
from abkit.world import vocab

_STUTTER = re.compile(r"(.{1,4})\1")


@dataclass(frozen=True)
class CandidateCheck:
    text: str
    complete: bool
    banned: list[str] = field(default_factory=list)
    contradicted: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    in_bucket: bool = True
    stutter: bool = False
    persona_hit: bool = False

    @property
    def passed(self) -> bool:
        return (self.complete and bool(self.text) and not self.banned and not self.contradicted
                and not self.stutter and self.in_bucket)

    def key(self) -> tuple:
        """Sort key: smaller is better."""
        return (not self.passed, len(self.banned) + len(self.contradicted), not self.complete, self.stutter,
                not self.persona_hit, not self.in_bucket, len(self.unsupported))

    def summary(self) -> dict[str, Any]:
        return {"passed": self.passed, "banned": self.banned, "contradicted": self.contradicted,
                "unsupported": self.unsupported, "complete": self.complete, "in_bucket": self.in_bucket,
                "stutter": self.stutter, "persona_hit": self.persona_hit}


# Reduplications the reference grammar itself uses (宝宝, 刚刚, 看看, ...) and ASCII in values (PP, XXL, mm).
_ALLOWED_REPEATS = frozenset("宝刚看调满厚妈爸试")


def _stutters(text: str) -> bool:
    """An immediately repeated 1-4 char unit (很很, 超值超值), except allowed reduplications."""
    for m in _STUTTER.finditer(text):
        unit = m.group(1)
        if unit.isascii() or (len(unit) == 1 and unit in _ALLOWED_REPEATS):
            continue
        return True
    return False


class CandidateFilter:
    """Checks candidates against their item; build once (the checkers compile automatons)."""

    def __init__(self) -> None:
        from abkit.text.scoring import TextChecker
        from abkit.world.textlex import world_extension

        self.checker = TextChecker.build(extension=world_extension())

    def check(self, text: str, item: Any, *, complete: bool = True, length: str | None = None,
              segment: str | None = None) -> CandidateCheck:
        """`item`: a ReasonRequest, dict or items row (anything abkit.text.items.as_item takes)."""
        matches, faith = self.checker.check(text, item)
        banned = [m.term for m in matches]
        lo, hi = LENGTH_BUCKETS.get(length or "", (0, 10_000))
        n = len("".join(text.split()))
        aspect = None
        if segment is not None:
            attrs = dict(getattr(item, "attributes", None) or {})
            aspect = vocab.top_aspect(segment, [*attrs, PRICE_ATTRIBUTE])
        hit = aspect is not None and aspect in faith.covered | {c.attribute for c in faith.supported}
        return CandidateCheck(text=text, complete=complete, banned=banned,
                              contradicted=[c.surface for c in faith.contradicted],
                              unsupported=[c.surface for c in faith.unsupported],
                              in_bucket=lo - 2 <= n <= hi + 2, stutter=_stutters(text), persona_hit=hit)

    def choose(self, texts: list[str], item: Any, *, complete: list[bool] | None = None,
               length: str | None = None, segment: str | None = None) -> tuple[int, list[CandidateCheck]]:
        """Index of the chosen candidate and every candidate's check."""
        complete = complete if complete is not None else [True] * len(texts)
        checks = [self.check(t, item, complete=c, length=length, segment=segment)
                  for t, c in zip(texts, complete, strict=True)]
        best = min(range(len(checks)), key=lambda i: (checks[i].key(), i))
        return best, checks

"""``ReasonService``: for a user and a page of items, each running experiment's arm and texts.

    service = ReasonService(load_snapshot(specs, "abkit.duckdb"), log=ExposureLog("exposures/"))
    for exp in service.reasons("u1", ["i1", "i2"], {"segment": "学生党", "platform": "ios"}):
        exp.experiment, exp.arm, exp.items   # items: [ItemReason(item_id, reason_id, text, fallback, why)]

* The arm is ``abkit assign``'s (serving.assignment); an experiment answers only inside its
  window ``[start, end)`` and only while it is not stopped, shipped or rolled back.
* Texts come from an in-memory index (experiment → (arm, segment) → item → ItemReason), the
  user's segment taken from ``attributes["segment"]``: the segment's reason, else the arm's
  segment-free reason, else the template generator's text with ``fallback=True`` and ``why``:
  ``no_reason`` (the arm has none for the item), ``segment_unknown`` (only other segments have
  one), ``no_segment`` (only segment reasons exist and the request names none) or
  ``item_unknown`` (not in the catalog either: text None, the page keeps its own).
* A user the experiment does not enrol (holdout, namespace, coverage) gets arm None and the
  control arm's texts — the default experience — and no exposure row.
* Every item answered to an enrolled user is one exposure row (``log``), or, with
  ``confirm=True``, a token per item that :meth:`confirm` turns into the row once the client
  reports the render.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from generators.base import ReasonRequest
from generators.template import TemplateGenerator
from serving.assignment import Assigner
from serving.event_ids import EventIds
from serving.exposure_log import ExposureLog, ExposureRecord, ItemReason, LogFull
from serving.snapshot import ExperimentSnapshot, ItemFacts, Snapshot

__all__ = ["ReasonService", "ExperimentReasons", "ItemReason", "LogFull"]

RESERVED_ATTRIBUTES = frozenset({"event_id", "ts", "experiment", "user_id", "item_id", "arm", "reason_id",
                                 "fallback", "extra", "source_file", "ingested_at"})
FALLBACK_WHYS = ("no_reason", "segment_unknown", "no_segment", "item_unknown")


class ExperimentReasons(NamedTuple):
    experiment: str
    arm: str | None  # None: not enrolled (default experience, nothing logged)
    items: list[ItemReason]
    tokens: list[str] | None = None  # confirm mode: one per item, for POST /v1/exposures


def template_text(item_id: str, facts: ItemFacts) -> str:
    """The template generator's reason for an item (the fallback text)."""
    try:
        attributes = {str(k): str(v) for k, v in json.loads(facts.attributes or "{}").items()}
    except (ValueError, AttributeError):
        attributes = {}
    req = ReasonRequest(item_id=item_id, category=facts.category or "", brand=facts.brand or "",
                        title=facts.title or "", price=float(facts.price or 0.0),
                        discount=float(facts.discount or 0.0), attributes=attributes)
    return TemplateGenerator.write(req)[0]


class _Experiment:
    """One experiment's assignment, window and reason index."""

    def __init__(self, snap: ExperimentSnapshot) -> None:
        spec = snap.spec
        self.key = spec.key
        self.assigner = Assigner(spec)
        lo, hi = spec.window_utc()
        self.start = lo.replace(tzinfo=dt.UTC).timestamp()
        self.end = hi.replace(tzinfo=dt.UTC).timestamp()
        self.control = spec.control_arm
        self.index: dict[tuple[str, str | None], dict[str, ItemReason]] = {}
        self.segmented: set[tuple[str, str]] = set()  # (arm, item) with some segment's reason
        for r in snap.reasons:
            self.index.setdefault((r.arm, r.segment), {})[r.item_id] = ItemReason(
                r.item_id, r.reason_id, r.text, False, None)
            if r.segment is not None:
                self.segmented.add((r.arm, r.item_id))
        self.fallbacks: dict[tuple[str, str, str], ItemReason] = {}


class ReasonService:
    """The in-process server object; thread-safe for concurrent ``reasons`` calls."""

    def __init__(self, snapshot: Snapshot, *, log: ExposureLog | None = None, confirm_ttl_s: float = 600.0,
                 user_cache: int = 100_000) -> None:
        self.log = log
        self.ids = log.ids if log is not None else EventIds()
        self.fallback_counts: collections.Counter[str] = collections.Counter()
        self.confirm_ttl_s = confirm_ttl_s
        self.expired_tokens = 0
        self._pending: collections.OrderedDict[str, tuple[float, ExposureRecord, int]] = collections.OrderedDict()
        self._user_cache = user_cache
        self.load(snapshot)

    def load(self, snapshot: Snapshot) -> None:
        """Swap in a new snapshot (a reload): one assignment, so a call sees the old or the new."""
        state = ([_Experiment(e) for e in snapshot.served], snapshot.items, {})
        self._state = state
        self.snapshot = snapshot

    @property
    def experiments(self) -> list[str]:
        return [e.key for e in self._state[0]]

    def _fallback(self, exp: _Experiment, items: Mapping[str, ItemFacts], arm: str, segment: str | None,
                  item_id: str) -> ItemReason:
        if segment is not None and (arm, item_id) in exp.segmented:
            why = "segment_unknown"
        elif segment is None and (arm, item_id) in exp.segmented:
            why = "no_segment"
        else:
            why = "no_reason"
        facts = items.get(item_id)
        if facts is None:
            why = "item_unknown"
        key = (arm, item_id, why)
        hit = exp.fallbacks.get(key)
        if hit is None:
            text = template_text(item_id, facts) if facts is not None else None
            hit = ItemReason(item_id, None, text, True, why)
            if len(exp.fallbacks) > 200_000:
                exp.fallbacks.clear()
            exp.fallbacks[key] = hit
        self.fallback_counts[why] += 1
        return hit

    def _arms(self, experiments: list[_Experiment], cache: dict[str, tuple[str | None, ...]],
              user_id: str) -> tuple[str | None, ...]:
        arms = cache.get(user_id)
        if arms is None:
            arms = tuple(e.assigner.arm(user_id) for e in experiments)
            if len(cache) >= self._user_cache:
                cache.clear()
            cache[user_id] = arms
        return arms

    def reasons(self, user_id: str, item_ids: Sequence[str], attributes: Mapping[str, Any] | None = None, *,
                now: float | None = None, confirm: bool = False) -> list[ExperimentReasons]:
        """One entry per running experiment. Raises LogFull when the exposure log cannot take the rows."""
        experiments, items, cache = self._state
        ts = time.time() if now is None else now
        segment = attributes.get("segment") if attributes else None
        if segment is not None:
            segment = str(segment)
        arms = self._arms(experiments, cache, user_id)
        out = []
        records = []
        for exp, arm in zip(experiments, arms, strict=True):
            if not exp.start <= ts < exp.end:
                continue
            shown_arm = arm if arm is not None else exp.control
            seg_index = exp.index.get((shown_arm, segment)) if segment is not None else None
            base_index = exp.index.get((shown_arm, None))
            page = []
            for item_id in item_ids:
                hit = seg_index.get(item_id) if seg_index is not None else None
                if hit is None and base_index is not None:
                    hit = base_index.get(item_id)
                if hit is None:
                    hit = self._fallback(exp, items, shown_arm, segment, item_id)
                page.append(hit)
            tokens = None
            if arm is not None and page:
                if confirm:
                    tokens = self.ids.many(int(ts * 1000), len(page))
                records.append(ExposureRecord(ts, exp.key, user_id, arm, page, attributes, tokens))
            out.append(ExperimentReasons(exp.key, arm, page, tokens))
        if records:
            if confirm:
                self._hold(records, ts)
            elif self.log is not None:
                rows = sum(len(r.items) for r in records)
                if not self.log.accepting(rows):
                    self.log.stats.rejected += rows
                    raise LogFull(f"{self.log.pending_rows():,} exposure rows wait for the disk")
                for r in records:
                    self.log.log(r)
        return out

    # --- render-confirmed mode ---------------------------------------------------------------------
    def _hold(self, records: list[ExposureRecord], ts: float) -> None:
        self._expire(ts)
        for rec in records:
            for i, token in enumerate(rec.event_ids or ()):
                self._pending[token] = (ts, rec, i)

    def _expire(self, now: float) -> None:
        pending = self._pending
        while pending:
            token, (ts, _, _) = next(iter(pending.items()))
            if now - ts < self.confirm_ttl_s:
                break
            del pending[token]
            self.expired_tokens += 1

    def confirm(self, tokens: Iterable[str], *, now: float | None = None) -> tuple[int, int]:
        """Log the rows of rendered items; returns (logged, unknown or expired or already confirmed)."""
        self._expire(time.time() if now is None else now)
        tokens = list(tokens)
        if self.log is not None and not self.log.accepting(len(tokens)):
            self.log.stats.rejected += len(tokens)
            raise LogFull(f"{self.log.pending_rows():,} exposure rows wait for the disk")
        logged = unknown = 0
        for token in tokens:
            held = self._pending.pop(token, None)
            if held is None:
                unknown += 1
                continue
            _, rec, i = held
            if self.log is not None:
                self.log.log(rec._replace(items=[rec.items[i]], event_ids=[token]))
            logged += 1
        return logged, unknown

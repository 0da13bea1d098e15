"""``ReasonService``: for a user and a page of items, each running experiment's arm and texts.

    service = ReasonService(load_snapshot(specs, "abkit.duckdb"), log=ExposureLog("exposures/"))
    for exp in service.reasons("u1", ["i1", "i2"], {"segment": "学生党", "platform": "ios"}):
        exp.experiment, exp.arm, exp.items   # items: [ItemReason(item_id, reason_id, text, fallback, why)]

* The arm is ``abkit assign``'s (serving.assignment); an experiment answers only inside its
  window ``[start, end)`` and only while it is not stopped or rolled back.
* A shipped experiment (serving.ship) answers at any time: every user its current coverage
  covers gets the shipped arm (texts and exposure rows), everyone else the default experience.
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
import functools
import json
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
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


_UNKNOWN = "\x00unknown segment"  # the view key shared by all segments without reasons
_new_reasons = functools.partial(tuple.__new__, ExperimentReasons)  # NamedTuple.__new__ without its Python frame
_new_record = functools.partial(tuple.__new__, ExposureRecord)


class _View(dict[str, ItemReason]):
    """item → ItemReason for one (arm, segment); a miss becomes the cached template fallback."""

    __slots__ = ("exp", "arm", "seg_key")

    def __init__(self, exp: _Experiment, arm: str, seg_key: str | None) -> None:
        super().__init__(exp.index.get((arm, None), {}))
        if seg_key is not None and seg_key != _UNKNOWN:
            self.update(exp.index.get((arm, seg_key), {}))
        self.exp, self.arm, self.seg_key = exp, arm, seg_key

    def __missing__(self, item_id: str) -> ItemReason:
        return self.exp.fallback(self, item_id)


class _Experiment:
    """One experiment's assignment, window and reason index.

    ``view(arm, segment)`` is a flat dict item → ItemReason for one (arm, segment): the
    segment's reasons over the arm's segment-free ones, plus the fallbacks met so far, so a page
    is one C-level ``map(view.__getitem__, items)``. Views exist per known segment, for "no
    segment" and for one shared "unknown segment", so requests cannot make them grow without
    bound; the fallbacks cached in them are dropped past ``MAX_FALLBACKS``.
    """

    MAX_FALLBACKS = 200_000

    def __init__(self, snap: ExperimentSnapshot, items: Mapping[str, ItemFacts]) -> None:
        spec = snap.spec
        self.key = spec.key
        self.assigner = Assigner(spec)
        self.arm: Callable[[str], str | None] = self.assigner.arm  # a bound method: no extra frame per user
        lo, hi = spec.window_utc()
        self.start = lo.replace(tzinfo=dt.UTC).timestamp()
        self.end = hi.replace(tzinfo=dt.UTC).timestamp()
        shipped = snap.shipped_arm
        if shipped is not None:  # no window: a ship lasts; the covered users all get the shipped arm
            self.start, self.end = -math.inf, math.inf
            enrolled = self.assigner.arm
            self.arm = lambda user_id: shipped if enrolled(user_id) is not None else None
        self.control = spec.control_arm
        self.items = items
        self.index: dict[tuple[str, str | None], dict[str, ItemReason]] = {}
        self.segmented: set[tuple[str, str]] = set()  # (arm, item) with some segment's reason
        for r in snap.reasons:
            self.index.setdefault((r.arm, r.segment), {})[r.item_id] = ItemReason(
                r.item_id, r.reason_id, r.text, False, None)
            if r.segment is not None:
                self.segmented.add((r.arm, r.item_id))
        self.segments = {seg for _, seg in self.index if seg is not None}
        self.views: dict[tuple[str, str | None], _View] = {}
        self.n_fallbacks = 0
        self.lock = threading.Lock()

    def view(self, arm: str, segment: str | None) -> _View:
        seg_key = segment if segment is None or segment in self.segments else _UNKNOWN
        v = self.views.get((arm, seg_key))
        if v is None:
            v = self.views[(arm, seg_key)] = _View(self, arm, seg_key)
        return v

    def fallback(self, view: _View, item_id: str) -> ItemReason:
        """The template text for an item the view lacks, with why; cached in the view."""
        arm, seg_key = view.arm, view.seg_key
        facts = self.items.get(item_id)
        if facts is None:
            why = "item_unknown"
        elif (arm, item_id) not in self.segmented:
            why = "no_reason"
        else:
            why = "no_segment" if seg_key is None else "segment_unknown"
        hit = ItemReason(item_id, None, template_text(item_id, facts) if facts is not None else None, True, why)
        with self.lock:
            if self.n_fallbacks >= self.MAX_FALLBACKS:
                self.views.clear()  # the next call builds fresh views
                self.n_fallbacks = 0
            view[item_id] = hit
            self.n_fallbacks += 1
        return hit


class ReasonService:
    """The in-process server object; safe for concurrent ``reasons`` calls."""

    def __init__(self, snapshot: Snapshot, *, log: ExposureLog | None = None, confirm_ttl_s: float = 600.0,
                 user_cache: int = 100_000) -> None:
        self.log = log
        self.ids = log.ids if log is not None else EventIds()
        self.confirm_ttl_s = confirm_ttl_s
        self.expired_tokens = 0
        self._pending: collections.OrderedDict[str, tuple[float, ExposureRecord, int]] = collections.OrderedDict()
        self._pending_lock = threading.Lock()
        self._user_cache = user_cache
        self.load(snapshot)

    def load(self, snapshot: Snapshot) -> None:
        """Swap in a new snapshot (a reload): one assignment, so a call sees the old or the new."""
        cache: dict[str, list[str | None]] = {}
        self._state = ([_Experiment(e, snapshot.items) for e in snapshot.served], cache)
        self.snapshot = snapshot

    @property
    def fallback_counts(self) -> dict[str, int]:
        """Logged exposure rows that showed the template text, by why (counted by the writer)."""
        if self.log is None:
            return {}
        return {why: n for why, n in self.log.stats.fallbacks.items() if why is not None}

    @property
    def experiments(self) -> list[str]:
        return [e.key for e in self._state[0]]

    def _arms(self, experiments: list[_Experiment], cache: dict[str, list[str | None]],
              user_id: str) -> list[str | None]:
        arms = cache.get(user_id)
        if arms is None:
            arms = [e.arm(user_id) for e in experiments]
            if len(cache) >= self._user_cache:
                cache.clear()
            cache[user_id] = arms
        return arms

    def reasons(self, user_id: str, item_ids: Sequence[str], attributes: Mapping[str, Any] | None = None, *,
                now: float | None = None, confirm: bool = False) -> list[ExperimentReasons]:
        """One entry per running experiment. Raises LogFull when the exposure log cannot take the rows."""
        experiments, cache = self._state
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
            page = list(map(exp.view(arm if arm is not None else exp.control, segment).__getitem__, item_ids))
            tokens = None
            if arm is not None and page:
                if confirm:
                    tokens = self.ids.many(int(ts * 1000), len(page))
                records.append(_new_record((ts, exp.key, user_id, arm, page, attributes, tokens)))
            out.append(_new_reasons((exp.key, arm, page, tokens)))
        if records:
            if confirm:
                self._hold(records, ts)
            elif self.log is not None:
                self.log.log(*records)  # all or nothing
        return out

    # --- render-confirmed mode ---------------------------------------------------------------------
    def _hold(self, records: list[ExposureRecord], ts: float) -> None:
        with self._pending_lock:
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
        """Log the rows of rendered items; returns (logged, unknown or expired or already confirmed).

        All or nothing: when the log refuses (LogFull), the tokens stay valid for a retry."""
        tokens = list(tokens)
        with self._pending_lock:
            self._expire(time.time() if now is None else now)
            held = {t: h for t in dict.fromkeys(tokens) if (h := self._pending.pop(t, None)) is not None}
            records = [rec._replace(items=[rec.items[i]], event_ids=[t]) for t, (_, rec, i) in held.items()]
            try:
                if self.log is not None and records:
                    self.log.log(*records)
            except LogFull:
                self._pending.update(held)
                raise
        return len(held), len(tokens) - len(held)

"""The simulated users, one block at a time: the simulator never holds per-user arrays for everyone.

    population = plan_population(spec, UserSource.generated(10_000_000, seed=0), seg_names, options, rng)
    for block in population.blocks(200_000):      # UserBlock: ids, segment, activity, ... of 200k users
        ...

A ``UserSource`` is a re-iterable population (a DataFrame, ``population.iter_users``, the warehouse's
users table read in batches). Planning makes one pass over it to learn what the per-user draws need
from everyone: segment and platform names, whether the activity and click-propensity columns are
usable, and the mean activity (summed with numpy's own pairwise order, so it equals
``activity.mean()`` of the whole column bit for bit). The random draws that used to be made for the
whole population at once from one generator are then drawn block by block from copies of that
generator positioned at the start of each draw (the earlier draws are made once and discarded), so
every block holds exactly the values the all-at-once code gave, whatever the block size.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from abkit.spec import Spec

FRAME_ROWS = 1_000_000  # rows per frame of an in-memory source
_DRAW_STEP = 1 << 20  # draws per call when skipping a random stream


@dataclass(frozen=True)
class UserSource:
    """``n`` users; ``frames()`` yields them as DataFrames (user_id, segment[, platform, activity,
    click_propensity, is_new]), the same rows in the same order on every call."""

    n: int
    frames: Callable[[], Iterator[pd.DataFrame]]

    @classmethod
    def from_frame(cls, users: pd.DataFrame) -> UserSource:
        users = users.reset_index(drop=True)
        return cls(len(users), lambda: (users.iloc[lo:lo + FRAME_ROWS] for lo in range(0, len(users), FRAME_ROWS)))

    @classmethod
    def generated(cls, n_users: int, seed: int = 0) -> UserSource:
        """The synthetic population of experiments.simulate.population, generated chunk by chunk."""
        from experiments.simulate.population import iter_users

        return cls(n_users, lambda: iter_users(n_users, seed))


@dataclass
class UserBlock:
    """Per-user arrays of users [start, start + len): humans first, then bots."""

    start: int
    ids: pa.Array  # string
    seg: np.ndarray  # int32 code into the world's seg_names; len(seg_names) = None/unknown
    persona: np.ndarray  # int32 index into textfeatures.PERSONAS; len(PERSONAS) = unknown
    activity: np.ndarray  # relative, mean 1 over humans; 0 for bots
    click: np.ndarray  # click propensity, mean 1
    buy: np.ndarray  # purchase propensity, mean 1
    history: np.ndarray  # bool: has a pre-period history (returning user)
    arm: np.ndarray  # int8; -1 = not enrolled, -2 = lost to the SRM bug
    is_bot: np.ndarray
    platform: np.ndarray  # int32 code into the world's platforms (-1 none)

    def __len__(self) -> int:
        return len(self.arm)

    def slice(self, lo: int, hi: int) -> UserBlock:
        parts = {f.name: getattr(self, f.name)[lo:hi] for f in fields(self) if f.name != "start"}
        return UserBlock(start=self.start + lo, **parts)

    @staticmethod
    def concat(blocks: list[UserBlock]) -> UserBlock:
        if len(blocks) == 1:
            return blocks[0]
        parts: dict[str, Any] = {"ids": pa.concat_arrays([b.ids for b in blocks])}
        for f in fields(UserBlock):
            if f.name not in ("start", "ids"):
                parts[f.name] = np.concatenate([getattr(b, f.name) for b in blocks])
        return UserBlock(start=blocks[0].start, **parts)

    def tile(self, k: int, ids: pa.Array, arm: np.ndarray) -> UserBlock:
        """The block k times over with new ids and arms (the A/A runner's batches)."""
        parts = {f.name: np.tile(getattr(self, f.name), k) for f in fields(self)
                 if f.name not in ("start", "ids", "arm")}
        return UserBlock(start=0, ids=ids, arm=arm, **parts)


class Population:
    """A population that yields its users in blocks of a given size, in order."""

    n_users: int

    def blocks(self, size: int) -> Iterator[UserBlock]:
        raise NotImplementedError

    def materialize(self) -> UserBlock:
        """Everyone in one block (small populations: the A/A runner, tests)."""
        return UserBlock.concat(list(self.blocks(max(self.n_users, 1))))


@dataclass
class FixedPopulation(Population):
    """Users already in memory."""

    block: UserBlock

    def __post_init__(self) -> None:
        self.n_users = len(self.block)

    def blocks(self, size: int) -> Iterator[UserBlock]:
        for lo in range(0, self.n_users, size):
            yield self.block.slice(lo, min(lo + size, self.n_users))


# --- numpy's pairwise summation, streamed --------------------------------------------------------

class PairwiseSum:
    """Σ of ``n`` values fed in order, equal bit for bit to ``np.sum`` of all of them at once.

    numpy sums a contiguous float64 array pairwise: a block of more than 128 values is split at
    n // 2 rounded down to a multiple of 8. Above ``leaf`` values we split the same way; each leaf
    is summed by numpy itself, so only one leaf is ever buffered.
    """

    def __init__(self, n: int, leaf: int = _DRAW_STEP) -> None:
        self._leaf = max(leaf, 128)
        self._leaves: list[tuple[int, int]] = []
        self._tree = self._split(0, n)
        self._sums: list[np.float64] = []
        self._buf: list[np.ndarray] = []
        self._pos = 0  # index of the first buffered value
        self._buffered = 0

    def _split(self, lo: int, n: int) -> Any:
        if n <= self._leaf:
            self._leaves.append((lo, lo + n))
            return len(self._leaves) - 1
        half = n // 2
        half -= half % 8
        return (self._split(lo, half), self._split(lo + half, n - half))

    def add(self, values: np.ndarray) -> None:
        self._buf.append(np.ascontiguousarray(values, dtype=np.float64))
        self._buffered += len(values)
        while len(self._sums) < len(self._leaves):
            lo, hi = self._leaves[len(self._sums)]
            if self._pos + self._buffered < hi:
                return
            data = np.concatenate(self._buf) if len(self._buf) > 1 else self._buf[0]
            self._sums.append(np.sum(data[lo - self._pos:hi - self._pos]))
            rest = data[hi - self._pos:]
            self._buf, self._pos, self._buffered = [rest], hi, len(rest)

    def total(self) -> np.float64:
        if len(self._sums) < len(self._leaves):
            raise ValueError("PairwiseSum: fewer values than announced")

        def value(node: Any) -> np.float64:
            return self._sums[node] if isinstance(node, int) else value(node[0]) + value(node[1])

        return value(self._tree)


# --- the per-user draws ---------------------------------------------------------------------------

Draw = Callable[[np.random.Generator, int], np.ndarray]
_DRAWS: dict[str, Draw] = {  # build_world's per-user draws, in the order it makes them
    "activity": lambda g, k: g.lognormal(-0.5, 1.0, k),  # heavy-tailed, mean 1 (when the users have none)
    "click": lambda g, k: g.lognormal(-0.5 * 0.35**2, 0.35, k),  # (when the users have no click propensity)
    "click_mult": lambda g, k: g.lognormal(-0.5 * 0.3**2, 0.3, k),
    "buy": lambda g, k: g.lognormal(-0.125, 0.5, k),
    "srm": lambda g, k: g.random(k),
}


def _skip(rng: np.random.Generator, draw: Draw, n: int, sink: PairwiseSum | None = None) -> None:
    """Advance rng past n draws, in steps (bounded memory); feed them to sink if given."""
    for lo in range(0, n, _DRAW_STEP):
        values = draw(rng, min(_DRAW_STEP, n - lo))
        if sink is not None:
            sink.add(values)


def codes(values: pd.Series, names: list[str]) -> np.ndarray:
    """Position of each value in names; len(names) for anything else (None, unknown)."""
    index = {n: i for i, n in enumerate(names)}
    return values.map(index).fillna(len(names)).to_numpy(dtype=np.int32)


def _numeric(frame: pd.DataFrame, col: str) -> np.ndarray:
    return pd.to_numeric(frame[col], errors="coerce").to_numpy(float)


@dataclass
class _Survey:
    """What planning learns from one pass over the source."""

    segments: set[str] = field(default_factory=set)
    platforms: set[str] | None = None
    activity_ok: bool | None = None  # None: no activity column
    click_ok: bool | None = None
    has_is_new: bool = False
    has_segment: bool = False


def _survey(source: UserSource, activity_sum: PairwiseSum) -> _Survey:
    s = _Survey()
    first = True
    for frame in source.frames():
        if first:
            s.has_segment, s.has_is_new = "segment" in frame, "is_new" in frame
            s.platforms = set() if "platform" in frame else None
            s.activity_ok = True if "activity" in frame else None
            s.click_ok = True if "click_propensity" in frame else None
            first = False
        if s.has_segment:
            s.segments.update(str(v) for v in frame["segment"].dropna().unique())
        if s.platforms is not None:
            s.platforms.update(str(v) for v in frame["platform"].astype(object).dropna().unique())
        if s.activity_ok:
            act = _numeric(frame, "activity")
            s.activity_ok = bool(np.isfinite(act).all())
            activity_sum.add(act)
        if s.click_ok:
            s.click_ok = bool(np.isfinite(_numeric(frame, "click_propensity")).all())
    return s


@dataclass
class StreamedPopulation(Population):
    """Users built block by block from a source and the positioned random streams (see the module doc)."""

    spec: Spec
    source: UserSource
    n_bots: int
    bot_prefix: str
    seg_names: list[str]
    platforms: list[str]
    persona_of_seg: np.ndarray
    survey: _Survey
    activity_mean: np.float64
    streams: dict[str, np.random.Generator]  # name -> generator at the start of that draw
    srm_bug: float
    assignment: np.ndarray | None

    def __post_init__(self) -> None:
        self.n_users = self.source.n + self.n_bots

    def _draw(self, cursors: dict[str, np.random.Generator], name: str, k: int) -> np.ndarray:
        return _DRAWS[name](cursors[name], k)

    def _humans(self, frame: pd.DataFrame, start: int, cursors: dict[str, np.random.Generator]) -> UserBlock:
        k = len(frame)
        ids = frame["user_id"].astype(str)
        segments = frame["segment"] if self.survey.has_segment else pd.Series([None] * k)
        seg = codes(segments.astype(object).where(segments.notna(), None).reset_index(drop=True), self.seg_names)
        activity = self._draw(cursors, "activity", k) if "activity" in cursors else _numeric(frame, "activity")
        click = self._draw(cursors, "click", k) if "click" in cursors else _numeric(frame, "click_propensity")
        click = click * self._draw(cursors, "click_mult", k)
        buy = self._draw(cursors, "buy", k)
        history = ~frame["is_new"].fillna(False).to_numpy(bool) if self.survey.has_is_new else np.ones(k, bool)
        platform = np.full(k, -1, dtype=np.int32)
        if self.survey.platforms is not None:
            plat = frame["platform"].astype(object).reset_index(drop=True)
            platform[:] = np.where(plat.notna(), codes(plat, self.platforms), -1)
        names = (self.assignment[start:start + k] if self.assignment is not None
                 else self._assign(ids.to_numpy()))
        return UserBlock(start, pa.array(ids.to_numpy(), type=pa.string()), seg, self.persona_of_seg[seg],
                         activity / self.activity_mean, click, buy, history, self._arms(names, cursors),
                         np.zeros(k, bool), platform)

    def _bots(self, cursors: dict[str, np.random.Generator]) -> UserBlock:
        k = self.n_bots
        ids = np.array([f"{self.bot_prefix}{i:06d}" for i in range(k)], dtype=object)
        seg = np.full(k, len(self.seg_names), dtype=np.int32)
        return UserBlock(self.source.n, pa.array(ids, type=pa.string()), seg, self.persona_of_seg[seg],
                         np.zeros(k), np.ones(k), self._draw(cursors, "buy", k), np.zeros(k, bool),
                         self._arms(self._assign(ids), cursors), np.ones(k, bool), np.full(k, -1, dtype=np.int32))

    def _assign(self, ids: np.ndarray) -> np.ndarray:
        from experiments.assign import assign_arms

        return np.asarray(assign_arms(ids, self.spec), dtype=object)

    def _arms(self, names: np.ndarray, cursors: dict[str, np.random.Generator]) -> np.ndarray:
        index = {a: i for i, a in enumerate(self.spec.arm_names)}
        arm = np.array([index.get(a, -1) if isinstance(a, str) else -1 for a in names], dtype=np.int8)
        if self.srm_bug > 0:  # a broken client: a share of the last arm's users never logs anything
            lost = (arm == len(index) - 1) & (self._draw(cursors, "srm", len(arm)) < self.srm_bug)
            arm[lost] = -2
        return arm

    def _parts(self) -> Iterator[UserBlock]:
        cursors = {name: copy.deepcopy(g) for name, g in self.streams.items()}
        start = 0
        for frame in self.source.frames():
            if len(frame):
                yield self._humans(frame, start, cursors)
                start += len(frame)
        if start != self.source.n:
            raise ValueError(f"the user source yielded {start} users, not the {self.source.n} it announced")
        if self.n_bots:
            yield self._bots(cursors)

    def blocks(self, size: int) -> Iterator[UserBlock]:
        pending: list[UserBlock] = []
        held = 0
        for part in self._parts():
            pending.append(part)
            held += len(part)
            while held >= size:
                merged = UserBlock.concat(pending)
                yield merged.slice(0, size)
                rest = merged.slice(size, len(merged))
                pending, held = ([rest] if len(rest) else []), len(rest)
        if held:
            yield UserBlock.concat(pending)


def plan_population(spec: Spec, source: UserSource, reason_segments: set[str], *, n_bots: int, bot_prefix: str,
                    srm_bug: float, rng: np.random.Generator, persona_index: dict[str, int], n_personas: int,
                    assignment: np.ndarray | None = None) -> StreamedPopulation:
    """One pass over source, then rng is positioned at each per-user draw and advanced past them all
    (so its later draws — the catalog's — are the ones the all-at-once code made)."""
    n = source.n
    activity_sum = PairwiseSum(n)
    survey = _survey(source, activity_sum)
    seg_names = sorted(survey.segments | reason_segments)
    persona_of_seg = np.array([persona_index.get(s, n_personas) for s in seg_names] + [n_personas], dtype=np.int32)
    streams: dict[str, np.random.Generator] = {}
    mean = activity_sum.total() / n if survey.activity_ok else np.float64(0.0)
    if not survey.activity_ok or not mean > 0:
        streams["activity"] = copy.deepcopy(rng)
        drawn = PairwiseSum(n)
        _skip(rng, _DRAWS["activity"], n, drawn)
        mean = drawn.total() / n
    if not survey.click_ok:
        streams["click"] = copy.deepcopy(rng)
        _skip(rng, _DRAWS["click"], n)
    for name, count in (("click_mult", n), ("buy", n + n_bots), ("srm", n + n_bots if srm_bug > 0 else 0)):
        if count:
            streams[name] = copy.deepcopy(rng)
            _skip(rng, _DRAWS[name], count)
    if assignment is not None:
        assignment = np.asarray(assignment, dtype=object)
        if len(assignment) != n:
            raise ValueError(f"assignment has {len(assignment)} entries for {n} users")
    return StreamedPopulation(spec=spec, source=source, n_bots=n_bots, bot_prefix=bot_prefix, seg_names=seg_names,
                              platforms=sorted(survey.platforms or ()), persona_of_seg=persona_of_seg, survey=survey,
                              activity_mean=mean, streams=streams, srm_bug=srm_bug, assignment=assignment)

"""Durable, non-blocking exposure logging: JSON Lines parts in a log directory.

The request path only appends one record per (response, experiment) to a deque; a writer
thread turns records into exposure rows (one per item, with a UUIDv7 ``event_id``) and every
``flush_ms`` (or sooner, once ``flush_rows`` rows wait) appends them to the open part and
fsyncs it. Parts are written under a temporary name (``.exposures-….jsonl.tmp``, held with an
exclusive ``flock``) and renamed to ``exposures-….jsonl`` when rotated (every ``rotate_s`` or
``rotate_bytes``) or closed. So:

* a finished part is complete and never changes again (``abkit ingest exposures DIR`` reads
  only those, and re-reading them is a no-op: ingest keys on ``event_id``);
* ``close()`` (SIGTERM/SIGINT in the server) writes, fsyncs and renames everything;
* after ``kill -9`` only rows not yet flushed are lost (at most one flush interval); the
  orphaned temporary part is complete up to its last newline, and :func:`recover_parts`
  (called when a writer starts on the directory) cuts any half-written line and renames it.

A write error (a full disk) keeps the rows in memory and retries at the next flush; once
``max_pending_rows`` wait, :meth:`ExposureLog.log` refuses (the server answers 503 and shows
nothing), so no shown item goes unlogged.
"""

from __future__ import annotations

import collections
import datetime as dt
import fcntl
import itertools
import operator
import os
import secrets
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from serving.event_ids import MASK48, EventIds

TEMP_PREFIX = ".exposures-"
TEMP_SUFFIX = ".jsonl.tmp"


class ItemReason(NamedTuple):
    """One item of a response: the text shown and where it came from."""

    item_id: str
    reason_id: str | None
    text: str | None
    fallback: bool
    why: str | None  # None, or why the fallback: no_reason, segment_unknown, no_segment, item_unknown


class ExposureRecord(NamedTuple):
    """One response to one user in one experiment; each item becomes one exposure row."""

    ts: float  # Unix seconds
    experiment: str
    user_id: str
    arm: str
    items: Sequence[ItemReason]
    attributes: Mapping[str, Any] | None
    event_ids: Sequence[str] | None = None  # render-confirmed mode: the ids handed out as tokens


_WHY = operator.itemgetter(4)
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_SHIFTS = np.arange(44, -1, -4, dtype=np.uint64)


class LogFull(Exception):
    """Too many rows wait for the disk: the caller must not show the page."""


class LogStats:
    """Counters: enqueued/rejected under the enqueue lock, the rest by the writer thread only."""

    def __init__(self) -> None:
        self.enqueued = 0  # request thread
        self.rejected = 0  # request thread: rows refused because the queue was full
        self.written = 0  # writer thread: rows handed to the OS
        self.flushed = 0  # writer thread: rows fsynced
        self.dropped = 0  # writer thread: rows lost (write failing at close)
        self.write_errors = 0
        self.parts = 0
        self.cpu_s = 0.0  # writer: CPU seconds spent encoding and writing (not waiting for the disk)
        self.fallbacks: collections.Counter[str | None] = collections.Counter()  # writer: logged rows by why


def _json(s: str | None) -> str:
    return "null" if s is None else orjson.dumps(s).decode()


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def final_name(temp: Path) -> Path:
    return temp.with_name(temp.name[1:].removesuffix(".tmp"))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def recover_parts(log_dir: str | os.PathLike[str]) -> list[Path]:
    """Finish the temporary parts no live writer holds: cut a half-written last line, rename.

    Returns the parts it finished (empty orphans are removed).
    """
    out = []
    d = Path(log_dir)
    for temp in sorted(d.glob(TEMP_PREFIX + "*" + TEMP_SUFFIX)):
        try:
            fh = open(temp, "r+b")  # noqa: SIM115 (held while locked)
        except FileNotFoundError:
            continue
        with fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live writer owns it
            data = fh.read()
            keep = data.rfind(b"\n") + 1
            if keep == 0:
                temp.unlink()
                continue
            if keep < len(data):
                fh.truncate(keep)
            fh.flush()
            os.fsync(fh.fileno())
            os.rename(temp, final_name(temp))
            out.append(final_name(temp))
    if out:
        _fsync_dir(d)
    return out


class ExposureLog:
    """The writer. ``log(record)`` from the request path; ``close()`` flushes and renames."""

    def __init__(self, log_dir: str | os.PathLike[str], *, flush_ms: int = 200, flush_rows: int = 20_000,
                 rotate_s: float = 60.0, rotate_bytes: int = 64 << 20, max_pending_rows: int = 2_000_000,
                 ids: EventIds | None = None) -> None:
        self.dir = Path(log_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.recovered = recover_parts(self.dir)
        self.flush_s = flush_ms / 1000.0
        self.flush_rows = flush_rows
        self.rotate_s = rotate_s
        self.rotate_bytes = rotate_bytes
        self.max_pending_rows = max_pending_rows
        self.ids = ids or EventIds()
        self.stats = LogStats()
        self._queue: collections.deque[ExposureRecord] = collections.deque()
        self._wake = threading.Event()
        self._enqueue_lock = threading.Lock()
        self._stop = False
        self._pending_data: tuple[bytes, int] | None = None  # encoded, not yet written (kept across a failed write)
        self._fh: Any = None
        self._temp: Path | None = None
        self._opened_at = 0.0
        self._size = 0
        self._items: dict[ItemReason, str] = {}
        self._thread = threading.Thread(target=self._run, name="abkit-exposure-log", daemon=True)
        self._thread.start()

    # --- request path -------------------------------------------------------------------------
    def pending_rows(self) -> int:
        return self.stats.enqueued - self.stats.written - self.stats.dropped

    def accepting(self, rows: int = 0) -> bool:
        return not self._stop and self.pending_rows() + rows <= self.max_pending_rows

    def log(self, *records: ExposureRecord) -> None:
        """Enqueue records (never blocks). Raises LogFull when the backlog would pass its bound."""
        rows = 0
        for r in records:
            rows += len(r.items)
        stats = self.stats
        with self._enqueue_lock:  # callers may be several threads
            pending = stats.enqueued - stats.written - stats.dropped + rows
            if self._stop or pending > self.max_pending_rows:
                stats.rejected += rows
                raise LogFull(f"{pending - rows:,} exposure rows wait for the disk")
            self._queue.extend(records)
            stats.enqueued += rows
        if pending >= self.flush_rows:
            self._wake.set()

    # --- writer thread ------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop:
            self._wake.wait(self.flush_s)
            self._wake.clear()
            self._flush()

    def _item_json(self, item: ItemReason) -> str:
        frag = (f'"item_id":{_json(item.item_id)},"reason_id":{_json(item.reason_id)},'
                f'"fallback":{"true" if item.fallback else "false"}')
        if len(self._items) > 500_000:
            self._items.clear()
        self._items[item] = frag
        return frag

    def _encode(self, records: list[ExposureRecord]) -> bytes:
        """The JSON lines of a batch, one per item, built column-wise (Arrow string kernels):
        the per-response parts are formatted once and repeated, the item parts come from a cache,
        and event ids are one block of consecutive counters rendered as hex with numpy."""
        counts = [len(r.items) for r in records]
        n = sum(counts)
        flat = list(itertools.chain.from_iterable(r.items for r in records))
        self.stats.fallbacks.update(map(_WHY, flat))
        frags = list(map(self._items.get, flat))
        if None in frags:
            cache = self._items
            for i, f in enumerate(frags):
                if f is None:
                    frags[i] = cache.get(flat[i]) or self._item_json(flat[i])
        heads, mids, tails = [], [], []
        for rec in records:
            heads.append('{"event_id":"' + self.ids.head(int(rec.ts * 1000)))
            mids.append(f'","ts":"{_iso(rec.ts)}","experiment":{_json(rec.experiment)},'
                        f'"user_id":{_json(rec.user_id)},"arm":{_json(rec.arm)},')
            tails.append("," + orjson.dumps(dict(rec.attributes)).decode()[1:-1] + "}\n" if rec.attributes else "}\n")
        per_row = pa.array(np.repeat(np.arange(len(records), dtype=np.int64), counts))
        if any(r.event_ids is not None for r in records):  # render-confirmed: ids were handed out as tokens
            given = itertools.chain.from_iterable(r.event_ids or self.ids.many(int(r.ts * 1000), len(r.items))
                                                  for r in records)
            ids = pa.array([e + '"' for e in given], pa.string())
            head_col = pa.array(['{"event_id":"'] * n, pa.string())
            mid_col = pa.array([m[1:] for m in mids], pa.string()).take(per_row)
        else:
            counter = (np.uint64(self.ids.reserve(n)) + np.arange(n, dtype=np.uint64)) & np.uint64(MASK48)
            digits = _HEX[(counter[:, None] >> _SHIFTS) & np.uint64(15)]
            ids = pa.StringArray.from_buffers(n, pa.py_buffer(np.arange(0, 12 * n + 1, 12, dtype=np.int32)),
                                              pa.py_buffer(digits.tobytes()))
            head_col = pa.array(heads, pa.string()).take(per_row)
            mid_col = pa.array(mids, pa.string()).take(per_row)
        join = pc.binary_join_element_wise
        lines = join(head_col, ids, mid_col, pa.array(frags, pa.string()), pa.array(tails, pa.string()).take(per_row), "")
        offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32, count=lines.offset + n + 1)
        return lines.buffers()[2].to_pybytes()[offsets[lines.offset]:offsets[lines.offset + n]]

    def _flush(self) -> None:
        cpu0 = time.thread_time()
        try:
            self._flush_queue()
        finally:
            self.stats.cpu_s += time.thread_time() - cpu0

    def _flush_queue(self) -> None:
        queue = self._queue
        while True:  # in chunks, so a backlog never becomes one huge buffer
            if self._pending_data is None and queue:
                batch = [queue.popleft() for _ in range(min(len(queue), 4096))]
                self._pending_data = (self._encode(batch), sum(len(r.items) for r in batch))
            if self._pending_data is not None:
                self._write()
            if self._pending_data is not None or not queue:  # a failed write is retried at the next flush
                break
        if self._fh is not None and (self._stop or time.monotonic() - self._opened_at >= self.rotate_s
                                     or self._size >= self.rotate_bytes):
            self._finish_part()

    def _open_part(self) -> None:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
        self._temp = self.dir / f"{TEMP_PREFIX}{stamp}-{os.getpid()}-{secrets.token_hex(4)}{TEMP_SUFFIX}"
        self._fh = open(self._temp, "xb")  # noqa: SIM115 (kept open across flushes)
        fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._opened_at = time.monotonic()
        self._size = 0
        self.stats.parts += 1

    def _write(self) -> None:
        assert self._pending_data is not None
        data, rows = self._pending_data
        try:
            if self._fh is None:
                self._open_part()
            self._fh.write(data)
            self._fh.flush()
        except OSError as exc:
            self._write_failed(exc)
            return
        self._size += len(data)
        self._pending_data = None
        self.stats.written += rows
        try:
            os.fsync(self._fh.fileno())
            self.stats.flushed += rows
        except OSError as exc:  # the rows are in the page cache; counted as written, not flushed
            self.stats.write_errors += 1
            print(f"abkit serve: warning: fsync failed ({exc})", file=sys.stderr)

    def _write_failed(self, exc: OSError) -> None:
        self.stats.write_errors += 1
        print(f"abkit serve: warning: exposure log write failed, will retry ({exc})", file=sys.stderr)
        if self._fh is not None:  # cut what part of the batch got out, so no line is half-written
            try:
                self._fh.truncate(self._size)
                self._fh.seek(self._size)
            except OSError:
                pass

    def _finish_part(self) -> None:
        fh, temp = self._fh, self._temp
        self._fh, self._temp = None, None
        if fh is None or temp is None:
            return
        try:
            fh.flush()
            os.fsync(fh.fileno())
        finally:
            fh.close()
        if self._size == 0:
            temp.unlink(missing_ok=True)
            return
        os.rename(temp, final_name(temp))
        _fsync_dir(self.dir)

    def flush_now(self) -> None:
        """Wake the writer (tests and the admin endpoint)."""
        self._wake.set()

    def close(self, retries: int = 5, retry_s: float = 0.2) -> None:
        """Write, fsync and rename everything enqueued so far (a failing write is retried
        ``retries`` times, then its rows are counted as dropped); later ``log`` calls raise LogFull."""
        if self._stop:
            return
        self._stop = True
        self._wake.set()
        self._thread.join()
        for attempt in range(retries + 1):
            self._flush()
            if self._pending_data is None and not self._queue:
                break
            if attempt < retries:
                time.sleep(retry_s)
        else:
            lost = (self._pending_data[1] if self._pending_data else 0) + sum(len(r.items) for r in self._queue)
            self.stats.dropped += lost
            self._pending_data = None
            self._queue.clear()
            print(f"abkit serve: error: {lost:,} exposure rows could not be written", file=sys.stderr)
            if self._fh is not None:
                self._finish_part()

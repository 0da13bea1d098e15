"""The exposure log: rows on disk as JSON Lines, parts finished atomically, orphans recovered,
a failing disk loses nothing, event ids are UUIDv7 and unique."""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import uuid
from pathlib import Path

import pytest

from abkit.cli.data import expand_directories
from serving.event_ids import EventIds
from serving.exposure_log import ExposureLog, ExposureRecord, ItemReason, LogFull, recover_parts

ITEMS = [ItemReason("i1", "r1", "t", False, None), ItemReason('i"2\\', None, "x", True, "no_reason")]


def record(user: str = "u1", attributes: dict | None = None) -> ExposureRecord:
    return ExposureRecord(1_793_000_000.25, "exp", user, "treat", ITEMS, attributes)


def lines(d: Path) -> list[dict]:
    return [json.loads(ln) for p in sorted(d.glob("exposures-*.jsonl")) for ln in p.read_text("utf-8").splitlines()]


def test_rows_fields_and_finished_part(tmp_path: Path) -> None:
    log = ExposureLog(tmp_path, flush_ms=10)
    log.log(record(attributes={"segment": "学生党", "n": 3, "flag": True, "none": None}))
    log.close()
    assert not list(tmp_path.glob(".*"))  # the temporary part was renamed
    rows = lines(tmp_path)
    assert [(r["item_id"], r["reason_id"], r["fallback"]) for r in rows] == [("i1", "r1", False), ('i"2\\', None, True)]
    when = dt.datetime.fromisoformat(rows[0]["ts"].replace("Z", "+00:00"))
    assert when == dt.datetime(2026, 10, 26, 7, 33, 20, 250000, tzinfo=dt.UTC)
    assert when.timestamp() == record().ts and rows[0]["segment"] == "学生党" and rows[0]["n"] == 3
    assert {uuid.UUID(r["event_id"]).version for r in rows} == {7}
    with pytest.raises(LogFull):
        log.log(record())  # closed: refused, not silently dropped


def test_event_ids_are_unique_within_and_across_sources() -> None:
    a, b = EventIds(), EventIds()
    ms = 1_793_000_000_000
    got = a.many(ms, 5000) + b.many(ms, 5000) + [a.next(ms) for _ in range(100)]
    assert len(set(got)) == len(got)
    u = uuid.UUID(got[0])
    assert u.version == 7 and u.variant == uuid.RFC_4122 and int(got[0][:8] + got[0][9:13], 16) == ms


def test_recovery_cuts_a_half_line_and_leaves_live_parts_alone(tmp_path: Path) -> None:
    good = b'{"event_id":"a","x":1}\n{"event_id":"b","x":2}\n'
    orphan = tmp_path / ".exposures-1-1-aa.jsonl.tmp"
    orphan.write_bytes(good + b'{"event_id":"c","x"')  # killed mid-write
    empty = tmp_path / ".exposures-2-1-bb.jsonl.tmp"
    empty.write_bytes(b'{"half')
    live = tmp_path / ".exposures-3-1-cc.jsonl.tmp"
    live.write_bytes(good)
    with open(live, "rb") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)  # another server is writing it
        done = recover_parts(tmp_path)
        assert done == [tmp_path / "exposures-1-1-aa.jsonl"]
        assert done[0].read_bytes() == good and not orphan.exists() and not empty.exists() and live.exists()
    assert expand_directories([tmp_path]) == done  # ingest reads finished parts only


class FullDisk:
    """A file whose first write fails half-way, as on a full disk."""

    def __init__(self, fh) -> None:  # noqa: ANN001
        self.fh, self.failed = fh, False

    def fail(self, data: bytes) -> int:
        self.fh.write(data[: len(data) // 2])
        self.fh.flush()
        raise OSError(28, "No space left on device")

    def write(self, data: bytes) -> int:
        if not self.failed:
            self.failed = True
            return self.fail(data)
        return self.fh.write(data)

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self.fh, name)


def test_a_failed_write_is_retried_whole(tmp_path: Path) -> None:
    log = ExposureLog(tmp_path, flush_ms=60_000)
    log._open_part()
    log._fh = FullDisk(log._fh)
    log.log(record("u1"), record("u2"))
    log.flush_now()
    log.close()
    assert log.stats.write_errors == 1 and log.stats.dropped == 0 and log.stats.flushed == 4
    rows = lines(tmp_path)
    assert [r["user_id"] for r in rows] == ["u1", "u1", "u2", "u2"]  # no half line, nothing twice


def test_a_disk_that_stays_full_counts_the_rows_dropped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = ExposureLog(tmp_path, flush_ms=60_000)
    open_part = log._open_part

    def full_disk_part() -> None:  # every part, the first and any retry, fails
        open_part()
        log._fh = FullDisk(log._fh)
        log._fh.write = log._fh.fail  # type: ignore[method-assign]

    monkeypatch.setattr(log, "_open_part", full_disk_part)
    log.log(record())
    log.close(retries=2, retry_s=0.0)
    assert log.stats.dropped == 2 and log.stats.write_errors >= 3 and log.pending_rows() == 0
    assert lines(tmp_path) == []


def test_backlog_bound_refuses_instead_of_dropping(tmp_path: Path) -> None:
    log = ExposureLog(tmp_path, flush_ms=60_000, max_pending_rows=3)
    log.log(record())
    with pytest.raises(LogFull):
        log.log(record())
    assert log.stats.rejected == 2
    log.close()
    assert log.stats.flushed == 2

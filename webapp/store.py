"""Warehouse access for the app: open per request, close, retry briefly while another process holds the lock.

    with reading(db) as con:      # read-only; None when the file does not exist yet
        ...
    with writing(db) as con:      # read-write, one transaction
        ...

DuckDB refuses to open one file with two configurations in one process, so within the app
pages read side by side and an action writes alone (a readers-writer lock).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb

from abkit.errors import AbkitError
from abkit.warehouse import WarehouseError, connect, has_table, transaction


class _ReadWriteLock:
    """Many readers or one writer: read-only opens share DuckDB's instance, a read-write open may not."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False

    @contextlib.contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._writing)
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextlib.contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._writing and self._readers == 0)
            self._writing = True
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()


_PROCESS_LOCK = _ReadWriteLock()
RETRY_SECONDS = 4.0


class WarehouseBusy(AbkitError):
    """Another process (an ingest, an analysis) held the warehouse for longer than the retry window."""


def _open(db: Path, read_only: bool, retry_seconds: float | None) -> duckdb.DuckDBPyConnection:
    try:
        return connect(db, read_only=read_only, lock_wait=RETRY_SECONDS if retry_seconds is None else retry_seconds)
    except WarehouseError as exc:
        if "in use" in str(exc):
            raise WarehouseBusy(f"{db}: busy — another process (an ingest or analysis) is writing; "
                                "try again in a moment") from None
        raise


@contextlib.contextmanager
def reading(db: Path, retry_seconds: float | None = None) -> Iterator[duckdb.DuckDBPyConnection | None]:
    """A read-only connection for one page; None when the warehouse does not exist yet."""
    with _PROCESS_LOCK.read():
        if not Path(db).exists():
            yield None
            return
        con = _open(db, True, retry_seconds)
        try:
            yield con
        finally:
            con.close()


@contextlib.contextmanager
def writing(db: Path, retry_seconds: float | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection and one transaction for one action."""
    with _PROCESS_LOCK.write():
        con = _open(db, False, retry_seconds)
        try:
            with transaction(con):
                yield con
        finally:
            con.close()


def table_exists(con: duckdb.DuckDBPyConnection | None, name: str) -> bool:
    return con is not None and has_table(con, name)


def version(db: Path) -> tuple[int, ...]:
    """Changes whenever any process writes the warehouse (the file or its write-ahead log)."""
    out: list[int] = []
    for path in (Path(db), Path(f"{db}.wal")):
        try:
            st = path.stat()
            out += [st.st_mtime_ns, st.st_size]
        except FileNotFoundError:
            out += [0, 0]
    return tuple(out)


class Memo:
    """A small least-recently-used cache for what a page computed from one warehouse version."""

    def __init__(self, size: int = 32) -> None:
        from collections import OrderedDict

        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key, compute):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = compute()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

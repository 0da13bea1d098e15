"""Event ids: UUIDv7 (RFC 9562), unique across processes and restarts, cheap to make in bulk.

Layout: 48-bit Unix milliseconds | version 7 | 12 random bits | variant | 30 random bits | a
32-bit counter. The random bits are drawn once per process (``secrets``), the counter makes
ids within a process distinct, and the random bits keep two processes (or a restart in the
same millisecond) apart: a collision needs two processes to draw the same 42 bits.
"""

from __future__ import annotations

import itertools
import secrets
import threading


class EventIds:
    """A thread-safe UUIDv7 source: ``next(ms)`` for one id, ``many(ms, n)`` for n."""

    def __init__(self) -> None:
        self._rand_a = secrets.randbits(12)
        self._low = (0b10 << 62) | (secrets.randbits(30) << 32)
        self._counter = itertools.count(secrets.randbits(16))  # next() on a count is atomic in CPython
        self._lock = threading.Lock()
        self._head_ms = -1
        self._head = ""

    def _prefix(self, ms: int) -> str:
        if ms != self._head_ms:
            self._head = f"{ms >> 16:08x}-{ms & 0xFFFF:04x}-7{self._rand_a:03x}-"
            self._head_ms = ms
        return self._head

    def next(self, ms: int) -> str:
        with self._lock:
            head = self._prefix(ms)
        low = f"{self._low | (next(self._counter) & 0xFFFFFFFF):016x}"
        return f"{head}{low[:4]}-{low[4:]}"

    def many(self, ms: int, n: int) -> list[str]:
        with self._lock:
            head = self._prefix(ms)
        base, counter = self._low, self._counter
        out = []
        for _ in range(n):
            low = f"{base | (next(counter) & 0xFFFFFFFF):016x}"
            out.append(f"{head}{low[:4]}-{low[4:]}")
        return out

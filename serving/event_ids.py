"""Event ids: UUIDv7 (RFC 9562), unique across processes and restarts, cheap to make in bulk.

Layout (hex groups): 48-bit Unix milliseconds | ``7`` + 12 random bits | variant + 14 random
bits | a 48-bit counter. The random bits are drawn once per process (``secrets``) and the
counter starts at a random value, so ids within a process never repeat and two processes (or a
restart within the same millisecond) collide only if they draw the same 26 bits *and* their
counters meet — negligible. Rows of one response take consecutive counter values, so the writer
formats one 12-digit hex number per row.
"""

from __future__ import annotations

import secrets
import threading

_MASK48 = (1 << 48) - 1


class EventIds:
    """A thread-safe UUIDv7 source."""

    def __init__(self) -> None:
        self._tail = f"-7{secrets.randbits(12):03x}-{0x8000 | secrets.randbits(14):04x}-"
        self._counter = secrets.randbits(47)
        self._lock = threading.Lock()

    def head(self, ms: int) -> str:
        """The first 24 characters of every id made in millisecond ``ms`` (the counter follows)."""
        return f"{(ms >> 16) & 0xFFFFFFFF:08x}-{ms & 0xFFFF:04x}{self._tail}"

    def reserve(self, n: int) -> int:
        """The first of ``n`` counter values no other call gets; format each as ``f"{c & MASK48:012x}"``."""
        with self._lock:
            start = self._counter
            self._counter += n
        return start

    def many(self, ms: int, n: int) -> list[str]:
        head, start = self.head(ms), self.reserve(n)
        return [f"{head}{(start + i) & _MASK48:012x}" for i in range(n)]

    def next(self, ms: int) -> str:
        return self.many(ms, 1)[0]


MASK48 = _MASK48

"""Reason length buckets (characters, whitespace removed): the S/M/L of docs/interface.md."""

from __future__ import annotations

LENGTH_BUCKETS: dict[str, tuple[int, int]] = {"S": (8, 16), "M": (17, 32), "L": (33, 60)}


def length_bucket(n_chars: int) -> str | None:
    """S 8–16, M 17–32, L 33–60 characters (inclusive); None outside all buckets."""
    for name, (lo, hi) in LENGTH_BUCKETS.items():
        if lo <= n_chars <= hi:
            return name
    return None

"""Multiple-testing corrections within one family: Holm (default) and Benjamini–Hochberg.

None entries (tests that could not be run) pass through and do not count in m.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

Method = Literal["holm", "bh", "none"]


def _holm(p: np.ndarray) -> np.ndarray:
    m = len(p)
    order = np.argsort(p, kind="stable")
    adj = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return out


def _bh(p: np.ndarray) -> np.ndarray:
    m = len(p)
    order = np.argsort(p, kind="stable")[::-1]  # largest first
    adj = np.minimum.accumulate(m / np.arange(m, 0, -1) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return out


def adjust_pvalues(p: Sequence[float | None], method: Method = "holm") -> list[float | None]:
    """Adjusted p-values in input order; method 'holm', 'bh' (Benjamini–Hochberg) or 'none'."""
    if method not in ("holm", "bh", "none"):
        raise ValueError(f"unknown correction {method!r}; use 'holm', 'bh' or 'none'")
    idx = [i for i, v in enumerate(p) if v is not None]
    out: list[float | None] = [None] * len(p)
    if not idx:
        return out
    vals = np.array([p[i] for i in idx], dtype=float)
    if np.any((vals < 0) | (vals > 1) | ~np.isfinite(vals)):
        raise ValueError("p-values must lie in [0, 1]")
    adj = vals if method == "none" else _holm(vals) if method == "holm" else _bh(vals)
    for i, v in zip(idx, adj, strict=True):
        out[i] = float(v)
    return out

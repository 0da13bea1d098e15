"""One user's arm, per call, exactly as ``abkit assign`` (experiments.assign) gives it.

The vectorized assigner is built for millions of ids at once; a server sees one user per call,
so this is the scalar path with the per-spec work done once: the FNV state after the seed
(``fnv1a32(seed + id)`` continues from it), the arm ranges, the holdout and namespace tests.

For ASCII ids and seeds the UTF-16 code units are the bytes themselves, so FNV-1a runs in C
(``fnv-hash-fast``, about 50x the Python loop); other ids, or a missing module, take the
Python loop. Tests check both paths against experiments.assign.
"""

from __future__ import annotations

from collections.abc import Callable

from abkit.spec import Spec
from experiments.assign import FNV_OFFSET, FNV_PRIME, HOLDOUT_SEED, bucket_ranges, fnv1a32

fnv1a_32: Callable[[bytes], int] | None
try:
    from fnv_hash_fast import fnv1a_32
except ImportError:  # pragma: no cover - the pure-Python loop gives the same buckets
    fnv1a_32 = None

assert FNV_PRIME == 0x01000193 and FNV_OFFSET == 0x811C9DC5  # spelled as literals in the loops below


def _units(s: str) -> bytes | memoryview:
    """UTF-16 code units of ``s``: the ASCII bytes themselves, else a uint16 view."""
    if s.isascii():
        return s.encode("ascii")
    return memoryview(s.encode("utf-16-le", "surrogatepass")).cast("H")


# The loops below spell FNV_PRIME (0x01000193) and the 32-bit mask as literals: constants are
# the fastest operands CPython has, and these loops are most of a call's time.
def _fnv(units: bytes | memoryview, h: int) -> int:
    for u in units:
        h = ((h ^ u) * 0x01000193) & 0xFFFFFFFF
    return h


def _fnv_decimal(value: int) -> int:
    """FNV-1a of ``str(value)`` from the offset basis (hash v2's outer hash)."""
    h = 0x811C9DC5
    for u in str(value).encode("ascii"):
        h = ((h ^ u) * 0x01000193) & 0xFFFFFFFF
    return h


class Assigner:
    """``arm(user_id)`` for one spec: the arm name, or None outside holdout/namespace/coverage."""

    __slots__ = ("_arms", "_v2", "_seed_state", "_seed_units", "_holdout", "_holdout_state", "_ns_units",
                 "_ns_range", "_c", "_seed_b", "_holdout_b", "_ns_b")

    def __init__(self, spec: Spec, *, holdout_seed: str = HOLDOUT_SEED, use_c: bool = True) -> None:
        self._arms = [(name, lo, hi) for name, (lo, hi) in
                      zip(spec.arm_names, bucket_ranges(spec.weights, spec.coverage), strict=True)]
        self._v2 = spec.hash_version == 2
        self._seed_state = fnv1a32(spec.seed)  # v2: fnv(seed + id) continues from here
        self._seed_units = _units(spec.seed)  # v1: fnv(id + seed) ends with these
        self._holdout = spec.holdout
        self._holdout_state = fnv1a32(holdout_seed)
        self._ns_units = _units("__" + spec.namespace.name) if spec.namespace is not None else None
        self._ns_range = spec.namespace.range if spec.namespace is not None else (0.0, 1.0)
        ns = "__" + spec.namespace.name if spec.namespace is not None else ""
        self._c = fnv1a_32 if use_c and spec.seed.isascii() and holdout_seed.isascii() and ns.isascii() else None
        self._seed_b, self._holdout_b, self._ns_b = spec.seed.encode(), holdout_seed.encode(), ns.encode()

    def arm(self, user_id: str) -> str | None:
        if not user_id:
            return None
        c = self._c
        if c is not None and user_id.isascii():
            return self._arm_c(c, user_id.encode())
        units = user_id.encode("ascii") if user_id.isascii() else _units(user_id)
        if self._holdout > 0:
            if _fnv_decimal(_fnv(units, self._holdout_state)) % 10000 / 10000 < self._holdout:
                return None
        if self._ns_units is not None:
            lo, hi = self._ns_range
            if not lo <= _fnv(self._ns_units, _fnv(units, FNV_OFFSET)) % 1000 / 1000 < hi:
                return None
        if self._v2:
            h = self._seed_state
            for u in units:
                h = ((h ^ u) * 0x01000193) & 0xFFFFFFFF
            d = 0x811C9DC5
            for u in str(h).encode("ascii"):
                d = ((d ^ u) * 0x01000193) & 0xFFFFFFFF
            b = d % 10000 / 10000
        else:
            b = _fnv(self._seed_units, _fnv(units, FNV_OFFSET)) % 1000 / 1000
        for name, lo, hi in self._arms:
            if lo <= b < hi:
                return name
        return None

    def _arm_c(self, fnv: Callable[[bytes], int], uid: bytes) -> str | None:
        """The same decisions as ``arm`` with FNV in C over ASCII bytes."""
        if self._holdout > 0 and fnv(str(fnv(self._holdout_b + uid)).encode()) % 10000 / 10000 < self._holdout:
            return None
        if self._ns_units is not None:
            lo, hi = self._ns_range
            if not lo <= fnv(uid + self._ns_b) % 1000 / 1000 < hi:
                return None
        if self._v2:
            b = fnv(str(fnv(self._seed_b + uid)).encode()) % 10000 / 10000
        else:
            b = fnv(uid + self._seed_b) % 1000 / 1000
        for name, lo, hi in self._arms:
            if lo <= b < hi:
                return name
        return None

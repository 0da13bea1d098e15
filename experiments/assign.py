"""Deterministic user → arm assignment, bucket-for-bucket compatible with GrowthBook's SDKs.

The hash (docs/interface.md, Commands), for a user id ``id`` and the spec's seed (``hash_seed``, default its key):

* version 2 (default): ``fnv1a32(str(fnv1a32(seed + id))) % 10000 / 10000``
* version 1:           ``fnv1a32(id + seed) % 1000 / 1000``

FNV-1a runs over UTF-16 code units, as the JavaScript SDK's ``charCodeAt`` loop and the Python
SDK from 4.0.0 do, so Chinese and emoji ids land in the same bucket on every client. Arm ranges
come from :func:`bucket_ranges`, which repeats the SDK's floating-point arithmetic exactly:
arm *i* owns ``[start_i, start_i + coverage * w_i)`` where ``start_i`` is the running sum
``w_0 + ... + w_{i-1}`` added in order (for weights [0.1, 0.2, 0.7] arm 1 ends at
0.30000000000000004, so bucket 0.3 belongs to arm 1; an integer-threshold shortcut gets such
boundary buckets wrong). A user whose bucket falls in no range is not enrolled.

Ramping up: because ``start_i`` does not depend on ``coverage``, **raising coverage never
moves an enrolled user to another arm** — it only enrols more users. **Changing the weights
does move users** (every range start shifts), so a ramp-up must change ``coverage``, never the
weights; a new weight split needs a new seed (a new experiment).

Namespaces (mutually exclusive experiments) follow GrowthBook's ``inNamespace``: a user is in
namespace ``(name, low, high)`` when ``fnv1a32(id + "__" + name) % 1000 / 1000`` is in
``[low, high)``; experiments sharing a namespace name with disjoint ranges never share a user.

Holdout (abkit's own, applied before everything else): a user is held out of every experiment
when ``hash_v2(HOLDOUT_SEED, id) < holdout``. The seed is one constant shared by all specs, so
the same users are held out whatever the experiment.

Everything is vectorized with numpy: ids are encoded to UTF-16 in one ``str.join`` + ``encode``
call and FNV runs column by column over all ids at once in uint32 arithmetic.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from abkit.atomic import atomic_path
from abkit.errors import AbkitError
from abkit.spec import normalize_weights

if TYPE_CHECKING:
    from abkit.spec import Spec

FNV_OFFSET = 0x811C9DC5
FNV_PRIME = 0x01000193
HOLDOUT_SEED = "abkit_holdout"

_PRIME32 = np.uint32(FNV_PRIME)
_POW10 = np.array([10**k for k in range(10)], dtype=np.int64)


# --- scalar reference (pure Python; the benchmark baseline and the docs' definition) --------
def fnv1a32(s: str, h: int = FNV_OFFSET) -> int:
    """FNV-1a 32 over the UTF-16 code units of ``s``, continuing from state ``h``."""
    data = s.encode("utf-16-le", "surrogatepass")
    for i in range(0, len(data), 2):
        h = ((h ^ (data[i] | (data[i + 1] << 8))) * FNV_PRIME) & 0xFFFFFFFF
    return h


def hash_one(seed: str, user_id: str, version: int = 2) -> float:
    """One id's bucket in [0, 1): the per-id definition the vectorized functions implement."""
    if version == 2:
        return fnv1a32(str(fnv1a32(seed + user_id))) % 10000 / 10000
    if version == 1:
        return fnv1a32(user_id + seed) % 1000 / 1000
    raise ValueError(f"unknown hash version {version!r} (1 or 2)")


def assign_one(user_id: str, spec: Spec, *, holdout_seed: str = HOLDOUT_SEED) -> str | None:
    """Per-id, pure-Python assignment; same result as :func:`assign_arms` for one id."""
    if not user_id:
        return None
    if spec.holdout > 0 and hash_one(holdout_seed, user_id, 2) < spec.holdout:
        return None
    if spec.namespace is not None:
        lo, hi = spec.namespace.range
        if not lo <= hash_one("__" + spec.namespace.name, user_id, 1) < hi:
            return None
    b = hash_one(spec.seed, user_id, spec.hash_version)
    for name, (lo, hi) in zip(spec.arm_names, bucket_ranges(spec.weights, spec.coverage), strict=True):
        if lo <= b < hi:
            return name
    return None


# --- vectorized ---------------------------------------------------------------------------
def _as_str_list(ids: Sequence[str | None] | np.ndarray | Iterable[str | None]) -> list[str]:
    if isinstance(ids, np.ndarray):
        out = ids.tolist()
    elif hasattr(ids, "to_pylist"):  # a pyarrow Array / ChunkedArray
        out = ids.to_pylist()
    else:
        out = list(ids)
    if not all(type(x) is str for x in out):
        out = ["" if x is None or (isinstance(x, float) and x != x) else str(x) for x in out]
    return out


def _encode(ids: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """UTF-16 code units of all ids, flat, with each id's start and length (in units).

    One join + one encode for the lot: ids are joined with NUL, which ASCII/UTF-16 encode as a
    zero unit, so the separators are found with numpy. Pure-ASCII input stays one byte per unit.
    """
    n = len(ids)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return np.zeros(0, dtype=np.uint16), empty, empty
    joined = "\x00".join(ids)
    if joined.count("\x00") != n - 1:  # some id contains NUL itself: encode one by one
        parts = [s.encode("utf-16-le", "surrogatepass") for s in ids]
        units = np.frombuffer(b"".join(parts), dtype="<u2")
        lengths = np.fromiter((len(p) // 2 for p in parts), dtype=np.int64, count=n)
        starts = np.zeros(n, dtype=np.int64)
        np.cumsum(lengths[:-1], out=starts[1:])
        return units, starts, lengths
    if joined.isascii():
        units = np.frombuffer(joined.encode("ascii"), dtype=np.uint8)
    else:
        units = np.frombuffer(joined.encode("utf-16-le", "surrogatepass"), dtype="<u2")
    seps = np.flatnonzero(units == 0)
    starts = np.empty(n, dtype=np.int64)
    starts[0] = 0
    starts[1:] = seps + 1
    ends = np.empty(n, dtype=np.int64)
    ends[:-1] = seps
    ends[-1] = units.size
    return units, starts, ends - starts


def _fnv_segments(units: np.ndarray, starts: np.ndarray, lengths: np.ndarray, h0: int) -> np.ndarray:
    """FNV-1a of every segment ``units[start:start+length]``, each starting from state ``h0``.

    Ids are sorted longest first, so at column j the ids still running are a prefix.
    """
    n = starts.size
    if n == 0:
        return np.zeros(0, dtype=np.uint32)
    order = np.argsort(-lengths, kind="stable")
    st = starts[order]
    ln = lengths[order]
    maxlen = int(ln[0])
    running = np.searchsorted(-ln, -np.arange(maxlen), side="left")  # count with length > j
    h = np.full(n, h0, dtype=np.uint32)
    for j in range(maxlen):
        k = int(running[j])
        if k == n:
            h ^= units[st + j]
            h *= _PRIME32
        else:
            hk = h[:k]
            hk ^= units[st[:k] + j]
            hk *= _PRIME32
    out = np.empty(n, dtype=np.uint32)
    out[order] = h
    return out


def _fnv_continue(h: np.ndarray, suffix: str) -> np.ndarray:
    """Continue every state in ``h`` over the same string (e.g. a seed appended to each id)."""
    data = suffix.encode("utf-16-le", "surrogatepass")
    for i in range(0, len(data), 2):
        h ^= np.uint32(data[i] | (data[i + 1] << 8))
        h *= _PRIME32
    return h


def _fnv_decimal(values: np.ndarray) -> np.ndarray:
    """FNV-1a of ``str(v)`` for every uint32 ``v`` (its decimal digits, no leading zeros)."""
    v = values.astype(np.int64)
    ndigits = 1 + (v[:, None] >= _POW10[None, 1:]).sum(axis=1)
    h = np.full(v.size, FNV_OFFSET, dtype=np.uint32)
    for p in range(10):  # p-th digit from the left
        active = ndigits > p
        exponent = np.where(active, ndigits - 1 - p, 0)
        digit = (v // _POW10[exponent]) % 10 + 48
        step = (h ^ digit.astype(np.uint32)) * _PRIME32
        h = np.where(active, step, h)
    return h


class EncodedIds:
    """Ids encoded once (UTF-16 code units, flat) so several hashes can reuse the encoding."""

    __slots__ = ("units", "starts", "lengths")

    def __init__(self, ids: Sequence[str | None] | np.ndarray | Iterable[str | None]) -> None:
        self.units, self.starts, self.lengths = _encode(_as_str_list(ids))

    def __len__(self) -> int:
        return int(self.starts.size)


IdsLike = Sequence[str | None] | np.ndarray | EncodedIds  # None: a missing id (never enrolled)


def _encoded(ids: IdsLike) -> EncodedIds:
    return ids if isinstance(ids, EncodedIds) else EncodedIds(ids)


def fnv1a32_many(ids: IdsLike, prefix: str = "", suffix: str = "") -> np.ndarray:
    """uint32 ``fnv1a32(prefix + id + suffix)`` for every id."""
    enc = _encoded(ids)
    h = _fnv_segments(enc.units, enc.starts, enc.lengths, fnv1a32(prefix))
    return _fnv_continue(h, suffix) if suffix else h


def hash_v2(seed: str, ids: IdsLike) -> np.ndarray:
    """float64 buckets ``fnv1a32(str(fnv1a32(seed + id))) % 10000 / 10000``."""
    inner = fnv1a32_many(ids, prefix=seed)
    return (_fnv_decimal(inner) % np.uint32(10000)).astype(np.float64) / 10000.0


def hash_v1(seed: str, ids: IdsLike) -> np.ndarray:
    """float64 buckets ``fnv1a32(id + seed) % 1000 / 1000``."""
    return (fnv1a32_many(ids, suffix=seed) % np.uint32(1000)).astype(np.float64) / 1000.0


def gb_hash(seed: str, ids: IdsLike, version: int = 2) -> np.ndarray:
    """GrowthBook's ``hash(seed, value, version)`` over an array of values."""
    if version == 2:
        return hash_v2(seed, ids)
    if version == 1:
        return hash_v1(seed, ids)
    raise ValueError(f"unknown hash version {version!r} (1 or 2)")


def in_namespace(ids: IdsLike, name: str, low: float, high: float) -> np.ndarray:
    """GrowthBook ``inNamespace``: ``low <= hash_v1("__" + name, id) < high``."""
    n = hash_v1("__" + name, ids)
    return (n >= low) & (n < high)


def bucket_ranges(weights: Sequence[float], coverage: float = 1.0) -> list[tuple[float, float]]:
    """The SDK's ``getBucketRanges``: same float operations in the same order, on the weights
    normalized to sum to 1 (abkit.spec.normalize_weights; the SDK itself would replace weights that
    do not sum to about 1 with equal weights, so only normalized weights are compatible)."""
    weights = normalize_weights(list(weights))
    coverage = min(max(coverage, 0.0), 1.0)
    cumulative = 0.0
    ranges = []
    for w in weights:
        start = cumulative
        cumulative += w
        ranges.append((start, start + coverage * w))
    return ranges


def choose(buckets: np.ndarray, ranges: Sequence[tuple[float, float]]) -> np.ndarray:
    """The SDK's ``chooseVariation`` for an array: index of the first range holding the bucket, else -1."""
    b = np.asarray(buckets, dtype=np.float64)
    out = np.full(b.shape, -1, dtype=np.int64)
    for i, (lo, hi) in enumerate(ranges):
        out[(out < 0) & (b >= lo) & (b < hi)] = i
    return out


def assign_index(
    user_ids: IdsLike, spec: Spec, *, holdout_seed: str = HOLDOUT_SEED
) -> np.ndarray:
    """Arm index per id (position in ``spec.arms``), -1 outside holdout/namespace/coverage.

    Empty or missing ids are never enrolled (as in the SDK).
    """
    ids = _encoded(user_ids)
    keep = ids.lengths > 0
    if spec.holdout > 0:
        keep &= hash_v2(holdout_seed, ids) >= spec.holdout
    if spec.namespace is not None:
        keep &= in_namespace(ids, spec.namespace.name, *spec.namespace.range)
    idx = choose(gb_hash(spec.seed, ids, spec.hash_version), bucket_ranges(spec.weights, spec.coverage))
    idx[~keep] = -1
    return idx


def assign_arms(
    user_ids: IdsLike, spec: Spec, *, holdout_seed: str = HOLDOUT_SEED
) -> np.ndarray:
    """Arm name per id (object array); None where the user is not enrolled."""
    idx = assign_index(user_ids, spec, holdout_seed=holdout_seed)
    names = np.array([*spec.arm_names, None], dtype=object)
    return names[idx]  # -1 picks the trailing None


# --- files ---------------------------------------------------------------------------------------
def _file_kind(path: str | Path) -> str:
    name = str(path).lower().removesuffix(".gz")
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".csv", ".tsv")):
        return "csv"
    raise AbkitError(f"{path}: unknown file format (use .csv or .parquet)")


def read_user_ids(path: str | Path) -> list[str | None]:
    """The ``user_id`` column of a CSV (read as text) or Parquet file (cast to text)."""
    import duckdb

    path = Path(path)
    if not path.is_file():
        raise AbkitError(f"{path}: no such file")
    src = (
        "read_parquet($path)"
        if _file_kind(path) == "parquet"
        else "read_csv($path, all_varchar = true, header = true)"
    )
    con = duckdb.connect()
    try:
        names = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {src}", {"path": str(path)}).fetchall()]
        if "user_id" not in names:
            raise AbkitError(f"{path}: missing required column 'user_id'")
        tbl = con.sql(
            f"SELECT CAST(user_id AS VARCHAR) AS user_id FROM {src}", params={"path": str(path)}
        ).to_arrow_table()
    except duckdb.Error as exc:
        raise AbkitError(f"{path}: cannot read ({str(exc).strip().splitlines()[0]})") from None
    finally:
        con.close()
    return tbl.column("user_id").to_pylist()


def assign_users_file(spec: Spec, users: str | Path, out: str | Path) -> dict[str | None, int]:
    """Assign every user of ``users`` and write ``out`` (user_id, arm; input order kept).

    Not-enrolled users get an empty ``arm`` in CSV and null in Parquet. Returns counts per arm
    (None = not enrolled).
    """
    import pyarrow as pa

    kind = _file_kind(out)
    ids = read_user_ids(users)
    idx = assign_index(ids, spec)
    labels = [*spec.arm_names, None]
    arms = np.array(labels, dtype=object)[idx]
    table = pa.table({"user_id": pa.array(ids, pa.string()), "arm": pa.array(arms.tolist(), pa.string())})
    with atomic_path(out) as tmp:  # a full disk leaves the previous file, never half a file
        if kind == "parquet":
            import pyarrow.parquet as pq

            pq.write_table(table, tmp)
        else:
            import pyarrow.csv as pacsv

            pacsv.write_csv(table, tmp)
    values, counts = np.unique(idx, return_counts=True)
    return {labels[i]: int(c) for i, c in zip(values, counts, strict=True)}

"""The generator protocol: requests in, reasons out (shared by template and neural generators).

A reason's id is derived from everything it was generated from — item, segment, arm, model
version, a hash of the decoding settings and a hash of the item's attributes — so regenerating
is idempotent and each request can seed its own random stream from the same key.
"""

from __future__ import annotations

import gc
import hashlib
import json
import json.encoder
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from generators.columns import (
    ItemColumns,
    float_json,
    join,
    json_escape,
    parse_attributes,
    sha256_hex,
    sha256_hex_wrapped,
)


@dataclass(frozen=True)
class ReasonRequest:
    """One (item, segment) to write a reason for, with the item's facts."""

    item_id: str
    category: str
    brand: str
    title: str
    price: float
    discount: float  # fraction off: 0.2 = 20% off (8折)
    attributes: dict[str, str]  # attribute name -> value, e.g. {"材质": "纯棉", "促销": "满199减30"}
    segment: str | None = None  # persona / user segment; None = not personalized
    length: str = "M"  # S (8–16 chars), M (16–32), L (32–60)


@dataclass(frozen=True)
class Reason:
    reason_id: str
    item_id: str
    segment: str | None
    arm: str
    text: str
    generator: str
    model_version: str
    settings_hash: str
    features: dict[str, Any] = field(default_factory=dict)  # e.g. gold mentions, candidate scores


@runtime_checkable
class Generator(Protocol):
    """Anything that writes reasons for a batch of requests."""

    name: str
    model_version: str

    def generate(self, requests: list[ReasonRequest], *, arm: str, settings: dict[str, Any]) -> list[Reason]: ...


def stable_hash(obj: Any, n: int = 16) -> str:
    """A hex digest of a JSON-able object that is stable across processes and machines."""
    blob = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:n]


def reason_key(request: ReasonRequest, *, arm: str, model_version: str, settings: dict[str, Any]) -> str:
    """The idempotency key of a reason, which is also its reason_id."""
    return "r_" + stable_hash(
        {
            "item": request.item_id,
            "segment": request.segment,
            "arm": arm,
            "model": model_version,
            "settings": stable_hash(settings),
            "attributes": stable_hash(
                [request.category, request.brand, request.title, request.price, request.discount,
                 sorted(request.attributes.items()), request.length]
            ),
        },
        n=20,
    )


def request_seed(reason_id: str) -> int:
    """A per-request random seed derived from the key (a stateless per-request generator)."""
    return int(hashlib.sha256(reason_id.encode("utf-8")).hexdigest()[:8], 16)


_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
# the C encoder json.dumps itself uses (None where the C accelerator is absent; typeshed omits the name);
# built once instead of once per call
_c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
_C_ENCODE = (_c_make_encoder(None, str, json.encoder.encode_basestring, None, ":", ",", True, False, True)
             if _c_make_encoder else None)


def _dumps(obj: Any) -> str:
    """Exactly json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)."""
    if _C_ENCODE is None:
        return _ENCODER.encode(obj)
    return "".join(_C_ENCODE(obj, 0))


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a batch builds many small acyclic objects.

    Building a few hundred thousand tuples/dicts/Reasons triggers collections that traverse
    every live object (the requests, the reasons built so far) again and again; that was most of
    the template generator's time. Nothing built here forms a cycle; reference counting frees it.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass
class RequestColumns:
    """A batch of requests as columns: row i asks for item `item_index[i]` with `segment[i]`, `length[i]`."""

    items: ItemColumns
    item_index: np.ndarray  # int64, row -> item
    segment: pa.Array  # string, null = not personalized
    length: pa.Array  # string: S / M / L

    def __len__(self) -> int:
        return len(self.item_index)

    @classmethod
    def cross(cls, items: ItemColumns, segments: list[str | None], length: str) -> RequestColumns:
        """Every item (not marked bad) × every segment, item-major (an item's segments are adjacent)."""
        good = np.flatnonzero(~items.bad)
        index = np.repeat(good, len(segments))
        segs = pa.array(segments, pa.string()).take(pa.array(np.tile(np.arange(len(segments)), len(good))))
        return cls(items, index, segs, pa.repeat(pa.scalar(length, pa.string()), len(index)))

    @classmethod
    def from_requests(cls, requests: list[ReasonRequest]) -> RequestColumns:
        table = pa.table({
            "item_id": pa.array([r.item_id for r in requests], pa.string()),
            "category": pa.array([r.category for r in requests], pa.string()),
            "brand": pa.array([r.brand for r in requests], pa.string()),
            "title": pa.array([r.title for r in requests], pa.string()),
            "price": pa.array([float(r.price) for r in requests], pa.float64()),
            "discount": pa.array([float(r.discount or 0.0) for r in requests], pa.float64()),
        })
        raw = [r.attributes for r in requests]
        pairs, bad = parse_attributes(raw)
        items = ItemColumns(table, pairs, raw, bad)
        items.number_json = (float_json([r.price for r in requests]), float_json([r.discount for r in requests]))
        return cls(items, np.arange(len(requests)), pa.array([r.segment for r in requests], pa.string()),
                   pa.array([r.length for r in requests], pa.string()))

    def take(self, rows: np.ndarray) -> RequestColumns:
        """The sub-batch of the given rows (same items)."""
        idx = pa.array(rows)
        return RequestColumns(self.items, self.item_index[rows], self.segment.take(idx), self.length.take(idx))

    def request(self, i: int) -> ReasonRequest:
        """Row i as a ReasonRequest (for the exact per-row path)."""
        t, j = self.items.table, int(self.item_index[i])
        return ReasonRequest(t["item_id"][j].as_py(), t["category"][j].as_py(), t["brand"][j].as_py(),
                             t["title"][j].as_py(), t["price"][j].as_py(), t["discount"][j].as_py(),
                             self.items.attribute_dict(j), self.segment[i].as_py(), self.length[i].as_py())

    def item_column(self, name: str) -> pa.Array:
        """An item column repeated per row."""
        return _per_row(self, self.items.table.column(name).combine_chunks())


def _attribute_parts(items: ItemColumns, tail: str) -> list[pa.Array | str]:
    """Per item, the parts of the JSON of [category, brand, title, price, discount, sorted attribute pairs,
    then `tail` (the text after the pairs' closing bracket and comma)."""
    t = items.table
    price, discount = items.number_json or (float_json(t["price"].combine_chunks()),
                                            float_json(t["discount"].combine_chunks()))
    return ['["', json_escape(t["category"].combine_chunks()), '","', json_escape(t["brand"].combine_chunks()),
            '","', json_escape(t["title"].combine_chunks()), '",', price, ",", discount, ",[",
            items.pairs.item_json(), "]," + tail]


def _items_once(requests: RequestColumns) -> bool:
    """Whether no item has two rows (rows in item order), so hashing per row hashes each item once."""
    return bool((np.diff(requests.item_index) > 0).all())


def _one_row_per_item(requests: RequestColumns) -> bool:
    """Whether row i is item i for every item."""
    index = requests.item_index
    return len(index) == len(requests.items) and (len(index) == 0 or (index[0] == 0 and (np.diff(index) == 1).all()))


def _per_row(requests: RequestColumns, values: pa.Array) -> pa.Array:
    """An item column spread to the rows (no copy when each item has one row, in order)."""
    return values if _one_row_per_item(requests) else values.take(pa.array(requests.item_index))


def _quoted(values: pa.Array) -> pa.Array | str:
    """JSON of each string or null; a constant when every row has the same value."""
    uniq = pc.unique(values)
    if len(uniq) == 1:
        return _dumps(uniq[0].as_py())
    return pc.fill_null(join('"', json_escape(values), '"'), "null")


def reason_ids(requests: RequestColumns, *, arm: str, model_version: str, settings: dict[str, Any]) -> pa.Array:
    """reason_key of every row, built as columns and hashed in bulk (two sha256 passes over the batch).

    The same bytes as reason_key: the attributes JSON per item, its sha256 (16 hex), then the outer
    object in sorted-key order (arm, attributes, item, model, segment, settings) and its sha256 (20 hex).
    """
    if len(requests) == 0:
        return pa.array([], pa.string())
    length = _quoted(requests.length)
    item_id = json_escape(requests.items.table.column("item_id").combine_chunks())
    head = '{"arm":' + _dumps(arm) + ',"attributes":"'
    after = ['","item":"', _per_row(requests, item_id), '","model":' + _dumps(model_version) + ',"segment":',
             _quoted(requests.segment), ',"settings":' + _dumps(stable_hash(settings)) + "}"]
    if isinstance(length, str) and _items_once(requests):  # the usual batch: both hashes in one pass
        inner = [p if isinstance(p, str) else _per_row(requests, p)
                 for p in _attribute_parts(requests.items, length + "]")]
        return sha256_hex_wrapped(inner, 16, [head], after, 20, prefix="r_")
    if isinstance(length, str):  # one length for the batch: one blob per item
        attr_hash = _per_row(requests, sha256_hex(join(*_attribute_parts(requests.items, length + "]")), 16))
    else:
        attr_hash = sha256_hex(join(_per_row(requests, join(*_attribute_parts(requests.items, ""))), length, "]"), 16)
    return join("r_", sha256_hex(join(head, attr_hash, *after), 20))


def _plain(r: ReasonRequest) -> bool:
    """Whether the columnar ids reproduce reason_key for r (string attributes; str ids and length)."""
    return (type(r.item_id) is str and (r.segment is None or type(r.segment) is str) and type(r.length) is str
            and all(type(k) is str and type(v) is str for k, v in r.attributes.items()))


def reason_keys(requests: list[ReasonRequest], *, arm: str, model_version: str, settings: dict[str, Any]) -> list[str]:
    """reason_key for a batch, identical to calling it per request (tests check), computed as columns."""
    if not all(_plain(r) for r in requests):
        return [reason_key(r, arm=arm, model_version=model_version, settings=settings) for r in requests]
    cols = RequestColumns.from_requests(requests)
    return reason_ids(cols, arm=arm, model_version=model_version, settings=settings).to_pylist()

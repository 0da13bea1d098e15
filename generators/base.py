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


_c_encode_basestring = getattr(json.encoder, "c_encode_basestring", None)
_ENCODE_STR = _c_encode_basestring or json.encoder.py_encode_basestring  # a str as ensure_ascii=False JSON


def _dumps_str(value: Any) -> str:
    """_dumps for the common case of a str (one C call), anything else through _dumps."""
    return _ENCODE_STR(value) if type(value) is str else _dumps(value)


def reason_keys(requests: list[ReasonRequest], *, arm: str, model_version: str, settings: dict[str, Any]) -> list[str]:
    """reason_key for a batch, identical to calling it per request but several times faster.

    Bulk work: the settings hash is computed once; the attributes hash once per distinct item facts
    of the batch (the segments of one item share it); the outer JSON object is assembled directly in
    sorted-key order (arm, attributes, item, model, segment, settings), which is exactly what
    json.dumps(sort_keys=True) writes, and the two sha256 passes run as comprehensions over the
    whole batch; tests check equality with reason_key.
    """
    with paused_gc():
        return _reason_keys(requests, arm, model_version, settings)


def _reason_keys(requests: list[ReasonRequest], arm: str, model_version: str, settings: dict[str, Any]) -> list[str]:
    dumps, dstr, sha = _dumps, _dumps_str, hashlib.sha256
    head = '{"arm":' + _ENCODER.encode(arm) + ',"attributes":"'
    model = ',"model":' + _ENCODER.encode(model_version) + ',"segment":'
    tail = ',"settings":' + _ENCODER.encode(stable_hash(settings)) + "}"
    # One attributes hash per distinct item facts (the same dict object and fields: segments of one item).
    attr_hash: dict[tuple[Any, ...], str] = {}
    keys = [(id(r.attributes), r.category, r.brand, r.title, r.price, r.discount, r.length) for r in requests]
    for key, r in zip(keys, requests, strict=True):
        if key not in attr_hash:
            attr_hash[key] = sha(dumps([r.category, r.brand, r.title, r.price, r.discount,
                                        sorted(r.attributes.items()), r.length]).encode("utf-8")).hexdigest()[:16]
    blobs = [head + attr_hash[key] + '","item":' + dstr(r.item_id) + model
             + ("null" if r.segment is None else dstr(r.segment)) + tail for key, r in zip(keys, requests, strict=True)]
    return ["r_" + sha(b.encode("utf-8")).hexdigest()[:20] for b in blobs]

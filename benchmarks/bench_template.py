"""Template generator throughput: today's per-row generator (frozen here) vs the columnar one, one run.

(a) before, whole path: the runner's per-row request building (json.loads + ReasonRequest per item) and
    (b) — what turning an items frame into reasons cost before;
(b) before: the generator as it was before the columnar rewrite — its batched `reason_keys` (JSON per
    row, two sha256 per row), the per-row `write` and one Reason object per row — frozen below so the
    baseline cannot drift; timed from prebuilt ReasonRequests (parsed attributes), as it was measured.
(c) after: `TemplateGenerator.generate_columns` from the items frame (attributes still JSON text, so the
    parse is inside the timing), ids hashed in bulk, texts assembled as columns, an Arrow table out.
Both must give identical reasons (ids, texts, features; checked). Best of --repeats, alternated;
the stage breakdown of both is printed first (--profile-only stops there).

    python benchmarks/bench_template.py --items 200000
Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import json.encoder
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from abkit.world import vocab  # noqa: E402
from abkit.world.catalog import make_catalog  # noqa: E402
from generators.base import Reason, ReasonRequest, RequestColumns, paused_gc, reason_ids, stable_hash  # noqa: E402
from generators.columns import item_columns  # noqa: E402
from generators.template import (  # noqa: E402  (vocabulary tables, shared data)
    _BUCKETS,
    _CTA,
    _FEATURE,
    _MAX_FEATS,
    _ORDER,
    _PRICE,
    _PROMO,
    _PROMO_VALUES,
    TemplateGenerator,
    reasons_from_table,
    subcategory_of,
)

# ---- frozen: generators/base.py reason_keys and generators/template.py as of commit 0162d56 ------------------
_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
_c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
_C_ENCODE = (_c_make_encoder(None, str, json.encoder.encode_basestring, None, ":", ",", True, False, True)
             if _c_make_encoder else None)
_ENCODE_STR = getattr(json.encoder, "c_encode_basestring", None) or json.encoder.py_encode_basestring


def _dumps(obj: Any) -> str:
    return _ENCODER.encode(obj) if _C_ENCODE is None else "".join(_C_ENCODE(obj, 0))


def _dumps_str(value: Any) -> str:
    return _ENCODE_STR(value) if type(value) is str else _dumps(value)


def frozen_reason_keys(requests: list[ReasonRequest], *, arm: str, model_version: str,
                       settings: dict[str, Any]) -> list[str]:
    dumps, dstr, sha = _dumps, _dumps_str, hashlib.sha256
    head = '{"arm":' + _ENCODER.encode(arm) + ',"attributes":"'
    model = ',"model":' + _ENCODER.encode(model_version) + ',"segment":'
    tail = ',"settings":' + _ENCODER.encode(stable_hash(settings)) + "}"
    attr_hash: dict[tuple[Any, ...], str] = {}
    keys = [(id(r.attributes), r.category, r.brand, r.title, r.price, r.discount, r.length) for r in requests]
    for key, r in zip(keys, requests, strict=True):
        if key not in attr_hash:
            attr_hash[key] = sha(dumps([r.category, r.brand, r.title, r.price, r.discount,
                                        sorted(r.attributes.items()), r.length]).encode("utf-8")).hexdigest()[:16]
    blobs = [head + attr_hash[key] + '","item":' + dstr(r.item_id) + model
             + ("null" if r.segment is None else dstr(r.segment)) + tail for key, r in zip(keys, requests, strict=True)]
    return ["r_" + sha(b.encode("utf-8")).hexdigest()[:20] for b in blobs]


def frozen_write(req: ReasonRequest, fake_promo_seed: int | None = None) -> tuple[str, list[list[str]], bool]:
    """(text, mentions, mentions_promo) for one request; the segment is ignored."""
    attrs = req.attributes
    promo = attrs.get(vocab.PROMO_ATTRIBUTE) or (vocab.discount_text(req.discount) if req.discount else None)
    if fake_promo_seed is not None:
        choices = [p for p in _PROMO_VALUES if p != promo]
        promo = choices[fake_promo_seed % len(choices)]
    length = req.length
    sub = subcategory_of(req.category, req.title)
    order = _ORDER.get((req.category, sub))
    if order is None:
        order = [(a, *_FEATURE[a]) for a in attrs if a in _FEATURE]
    lo, hi = _BUCKETS.get(length, _BUCKETS["M"])
    max_feats = _MAX_FEATS.get(length, 2)

    parts: list[str] = []
    mentions: list[list[str]] = []
    size = -1  # running length of "，".join(parts)
    if length != "S":
        subject = "这款" + (sub or req.category)
        parts.append(subject)
        size += len(subject) + 1
    has_promo = False
    if fake_promo_seed is not None:  # an injected claim must be shown
        clause = _PROMO[0] + promo + _PROMO[1]
        parts.append(clause)
        mentions.append([vocab.PROMO_ATTRIBUTE, promo])
        size += len(clause) + 1
        has_promo = True
    n_feats = 0
    for attr, pre, suf in order:
        value = attrs.get(attr)
        if value is None:
            continue
        clause = pre + value + suf
        if size + len(clause) + 1 > hi:
            continue
        parts.append(clause)
        mentions.append([attr, value])
        size += len(clause) + 1
        n_feats += 1
        if n_feats >= max_feats:
            break
    if promo and not has_promo and length != "S":
        clause = _PROMO[0] + promo + _PROMO[1]
        if size + len(clause) + 1 <= hi:
            parts.append(clause)
            mentions.append([vocab.PROMO_ATTRIBUTE, promo])
            size += len(clause) + 1
            has_promo = True
    if length == "L":
        price = vocab.price_text(req.price * (1.0 - (req.discount or 0.0)))
        clause = _PRICE[0] + price + _PRICE[1]
        if size + len(clause) + 1 <= hi:
            parts.append(clause)
            mentions.append([vocab.PRICE_ATTRIBUTE, price])
            size += len(clause) + 1
    if size < lo and size + len(_CTA) + 1 <= hi:
        parts.append(_CTA)
    return "，".join(parts), mentions, has_promo


def frozen_generate(requests: list[ReasonRequest], arm: str, settings: dict[str, Any],
                    stages: dict[str, float] | None = None) -> list[Reason]:
    """TemplateGenerator.generate before the columnar rewrite (per-row write, one Reason per row)."""
    with paused_gc():
        t0 = time.perf_counter()
        ids = frozen_reason_keys(requests, arm=arm, model_version="template-v1", settings=settings)
        t1 = time.perf_counter()
        settings_hash = stable_hash(settings)
        rate = float(settings.get("inject_unfaithful_rate") or 0.0)
        if rate > 0:
            seeds = [int(hashlib.sha256(rid.encode("utf-8")).hexdigest()[:8], 16) for rid in ids]
            fake = [seed if seed / 2**32 < rate else None for seed in seeds]
            written = [frozen_write(req, fake_promo_seed=f) for req, f in zip(requests, fake, strict=True)]
        else:
            fake = [None] * len(requests)
            written = [frozen_write(req) for req in requests]
        t2 = time.perf_counter()
        out = [Reason(rid, req.item_id, req.segment, arm, text, "template", "template-v1", settings_hash,
                      {"mentions": mentions, "mentions_promo": has_promo, "length": vocab.length_bucket(len(text)),
                       "corrupted": None if f is None else "fake_discount", "ai_generated": False})
               for rid, req, (text, mentions, has_promo), f in zip(ids, requests, written, fake, strict=True)]
        t3 = time.perf_counter()
    if stages is not None:
        stages.update({"ids (JSON + 2 sha256 per row)": t1 - t0, "texts (per-row write)": t2 - t1,
                       "Reason objects": t3 - t2})
    return out
# ---- end of the frozen copy ---------------------------------------------------------------------------------


def build_requests(items: Any) -> list[ReasonRequest]:
    """What the runner built before generating: one ReasonRequest per item, attributes parsed."""
    return [ReasonRequest(i, c, b, t, float(p), float(d), json.loads(a), None, "M")
            for i, c, b, t, p, d, a in zip(items.item_id, items.category, items.brand, items.title, items.price,
                                           items.discount, items.attributes, strict=True)]


def columnar(items: Any, settings: dict[str, Any], stages: dict[str, float] | None = None) -> Any:
    """The columnar generator from the items frame: parse, ids in bulk, texts as columns."""
    gen = TemplateGenerator()
    t0 = time.perf_counter()
    cols = RequestColumns.cross(item_columns(items), [None], "M")
    t1 = time.perf_counter()
    ids = reason_ids(cols, arm="control", model_version=gen.model_version, settings=settings)
    t2 = time.perf_counter()
    table = gen.generate_columns(cols, arm="control", settings=settings, ids=ids)
    t3 = time.perf_counter()
    if stages is not None:
        stages.update({"parse attributes (JSON text -> columns)": t1 - t0,
                       "ids (attribute pairs, JSON columns, 2 bulk sha256)": t2 - t1,
                       "texts + table (clause pool, numpy loop, list join)": t3 - t2})
    return table


def _best(fn: Callable[[], Any], repeats: int, seconds: dict[str, float], name: str) -> Any:
    t0 = time.perf_counter()
    out = fn()
    seconds[name] = min(seconds.get(name, float("inf")), time.perf_counter() - t0)
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=200_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--inject", type=float, default=0.0, help="inject_unfaithful_rate of the settings")
    ap.add_argument("--profile-only", action="store_true", help="print the stage breakdown and stop")
    args = ap.parse_args(argv)
    items = make_catalog(args.items, seed=4)
    n = len(items)
    settings = {"type": "template", "length": "M", "experiment": "bench", "inject_unfaithful_rate": args.inject}

    before_stages: dict[str, float] = {}
    after_stages: dict[str, float] = {}
    t0 = time.perf_counter()
    reqs = build_requests(items)
    before_stages = {"requests (json.loads + ReasonRequest per row)": time.perf_counter() - t0}
    frozen_generate(reqs, "control", settings, before_stages)
    columnar(items, settings, after_stages)
    print(f"stage breakdown, {n:,} items, one run each, load {os.getloadavg()[0]:.1f}")
    for title, stages in (("before", before_stages), ("after", after_stages)):
        for stage, sec in stages.items():
            print(f"  {title:<7}{stage:<56}{sec:8.3f} s{sec / n * 1e6:8.2f} us/row")
    if args.profile_only:
        return {}

    seconds: dict[str, float] = {}
    outputs: dict[str, Any] = {}
    for _ in range(args.repeats):  # alternated, so load changes hit all three alike
        outputs["whole"] = _best(lambda: frozen_generate(build_requests(items), "control", settings), args.repeats,
                                 seconds, "whole")
        outputs["before"] = _best(lambda: frozen_generate(reqs, "control", settings), args.repeats, seconds, "before")
        outputs["after"] = _best(lambda: columnar(items, settings), args.repeats, seconds, "after")
    after = reasons_from_table(outputs["after"])
    identical = after == outputs["before"] == outputs["whole"]
    load = os.getloadavg()[0]
    print(f"\n{n:,} reasons, best of {args.repeats}, load {load:.1f} on {os.cpu_count()} cores")
    print(f"{'path':<62}{'seconds':>9}{'reasons/s':>12}")
    labels = {"whole": "(a) before, whole path: parse per row + (b), from the items",
              "before": "(b) before: per-row ids/write/Reason, from parsed requests",
              "after": "(c) after: columnar, from the items frame (parse included)"}
    for name, t in seconds.items():
        print(f"{labels[name]:<62}{t:9.3f}{n / t:12,.0f}")
    ratio = seconds["before"] / seconds["after"]
    whole = seconds["whole"] / seconds["after"]
    print(f"after is {ratio:.2f}x (b) and {whole:.2f}x (a); outputs identical: {identical}")
    summary = {"benchmark": "template", "reasons": n, "load": round(load, 1), "identical": identical,
               "whole_before_reasons_per_s": round(n / seconds["whole"]),
               "before_reasons_per_s": round(n / seconds["before"]), "after_reasons_per_s": round(n / seconds["after"]),
               "ratio": round(ratio, 2), "ratio_whole_path": round(whole, 2), "inject_unfaithful_rate": args.inject}
    print(json.dumps(summary))
    if not identical:
        raise SystemExit("outputs differ")
    return summary


if __name__ == "__main__":
    main()

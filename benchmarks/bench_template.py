"""Template generator throughput: today's per-row generator (frozen here) vs the bulk one, one run.

(a) per-row ids: `reason_key` per request + the per-row generate loop;
(b) before: the generator as it was before the bulk rewrite (its batched `reason_keys` and loop,
    frozen below so the baseline cannot drift);
(c) after: `generators.template.TemplateGenerator` (ids hashed in bulk, texts and reasons built
    in comprehensions).
All three must return identical reasons (checked). Best of --repeats; reasons/s = requests / s.

    python benchmarks/bench_template.py --items 100000
Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from abkit.world import vocab  # noqa: E402
from abkit.world.catalog import make_catalog  # noqa: E402
from generators import base  # noqa: E402
from generators.base import Reason, ReasonRequest, reason_key, request_seed, stable_hash  # noqa: E402
from generators.template import TemplateGenerator  # noqa: E402


def frozen_reason_keys(requests: list[ReasonRequest], *, arm: str, model_version: str,
                       settings: dict[str, Any]) -> list[str]:
    """generators.base.reason_keys before the bulk rewrite (one loop, two hashes per row)."""
    enc, dumps, sha = base._ENCODER.encode, base._dumps, hashlib.sha256
    head = '{"arm":' + enc(arm) + ',"attributes":"'
    model = ',"model":' + enc(model_version) + ',"segment":'
    tail = ',"settings":' + enc(stable_hash(settings)) + "}"
    out = []
    for r in requests:
        attrs = sha(dumps([r.category, r.brand, r.title, r.price, r.discount, sorted(r.attributes.items()),
                           r.length]).encode("utf-8")).hexdigest()[:16]
        seg = "null" if r.segment is None else dumps(r.segment)
        blob = head + attrs + '","item":' + dumps(r.item_id) + model + seg + tail
        out.append("r_" + sha(blob.encode("utf-8")).hexdigest()[:20])
    return out


def frozen_generate(requests: list[ReasonRequest], arm: str, settings: dict[str, Any], per_row_ids: bool) -> list[Reason]:
    """TemplateGenerator.generate before the bulk rewrite (per-row loop)."""
    gen = TemplateGenerator()
    if per_row_ids:
        ids = [reason_key(r, arm=arm, model_version=gen.model_version, settings=settings) for r in requests]
    else:
        ids = frozen_reason_keys(requests, arm=arm, model_version=gen.model_version, settings=settings)
    settings_hash = stable_hash(settings)
    rate = float(settings.get("inject_unfaithful_rate") or 0.0)
    out = []
    for rid, req in zip(ids, requests, strict=True):
        corrupt = rate > 0 and request_seed(rid) / 2**32 < rate
        text, mentions, has_promo = gen.write(req, fake_promo_seed=request_seed(rid) if corrupt else None)
        out.append(Reason(
            reason_id=rid, item_id=req.item_id, segment=req.segment, arm=arm, text=text,
            generator=gen.name, model_version=gen.model_version, settings_hash=settings_hash,
            features={"mentions": mentions, "mentions_promo": has_promo, "length": vocab.length_bucket(len(text)),
                      "corrupted": "fake_discount" if corrupt else None, "ai_generated": False},
        ))
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--inject", type=float, default=0.0, help="inject_unfaithful_rate of the settings")
    args = ap.parse_args(argv)
    items = make_catalog(args.items, seed=4)
    reqs = [ReasonRequest(i, c, b, t, float(p), float(d), json.loads(a), None, "M")
            for i, c, b, t, p, d, a in zip(items.item_id, items.category, items.brand, items.title, items.price,
                                           items.discount, items.attributes, strict=True)]
    settings = {"type": "template", "length": "M", "experiment": "bench", "inject_unfaithful_rate": args.inject}
    runs = {
        "per_row": lambda: frozen_generate(reqs, "control", settings, per_row_ids=True),
        "before": lambda: frozen_generate(reqs, "control", settings, per_row_ids=False),
        "after": lambda: TemplateGenerator().generate(reqs, arm="control", settings=settings),
    }
    seconds: dict[str, float] = {}
    outputs: dict[str, list[Reason]] = {}
    for _ in range(args.repeats):  # interleaved, so load changes hit all three alike
        for name, fn in runs.items():
            t0 = time.perf_counter()
            outputs[name] = fn()
            seconds[name] = min(seconds.get(name, float("inf")), time.perf_counter() - t0)
    identical = outputs["per_row"] == outputs["before"] == outputs["after"]
    load = os.getloadavg()[0]
    print(f"{len(reqs):,} requests, best of {args.repeats}, load {load:.1f} on {os.cpu_count()} cores")
    print(f"{'generator':<46}{'seconds':>9}{'reasons/s':>12}{'after is':>10}")
    labels = {"per_row": "(a) per-row reason_key + per-row loop", "before": "(b) before: batched keys, per-row loop",
              "after": "(c) after: bulk ids + comprehensions"}
    for name, t in seconds.items():
        ratio = f"{t / seconds['after']:9.2f}x" if name != "after" else ""
        print(f"{labels[name]:<46}{t:9.3f}{len(reqs) / t:12,.0f}{ratio:>10}")
    print(f"outputs identical: {identical}")
    summary = {"benchmark": "template", "requests": len(reqs), "load": round(load, 1), "identical": identical,
               **{f"{k}_reasons_per_s": round(len(reqs) / v) for k, v in seconds.items()},
               "speedup_vs_before": round(seconds["before"] / seconds["after"], 2),
               "speedup_vs_per_row": round(seconds["per_row"] / seconds["after"], 2)}
    print(json.dumps(summary))
    if not identical:
        raise SystemExit("outputs differ")
    return summary


if __name__ == "__main__":
    main()

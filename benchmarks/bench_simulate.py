"""Simulator throughput and memory: vectorized chunked streaming vs one big chunk vs a Python loop.

    python benchmarks/bench_simulate.py --users 100000            # quick
    python benchmarks/bench_simulate.py --users 1000000 --chunk-users 200000

Each variant runs in its own process (clean peak RSS). Rows = exposures + events written to
Parquet. The baseline is the same behaviour model written the obvious way — a Python loop over
users and exposures appending dicts, then one DataFrame to Parquet — run on fewer users.
Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _world(n_users: int, chunk_users: int, n_items: int, seed: int):
    import pandas as pd

    from abkit.spec import parse_spec
    from abkit.world.catalog import make_catalog
    from experiments.simulate.population import make_users
    from experiments.simulate.traffic import SimOptions, build_world
    from generators.corpus import build_corpus

    spec = parse_spec({"key": "bench", "start": "2026-11-01", "end": "2026-11-15", "timezone": "Asia/Shanghai",
                       "primary_metric": "ctr", "arms": [{"name": "control", "weight": 0.5},
                                                         {"name": "neural", "weight": 0.5}]})
    items = make_catalog(n_items, seed)
    reasons = pd.concat([build_corpus(items, personas=[None], seed=1).assign(arm="control"),
                         build_corpus(items, seed=2).assign(arm="neural")], ignore_index=True)
    reasons["reason_id"] = [f"r{i}" for i in range(len(reasons))]
    users = make_users(n_users, seed)
    return build_world(spec, users, items, reasons, SimOptions(seed=seed, chunk_users=chunk_users))


def child_ours(n_users: int, chunk_users: int, n_items: int, out: str) -> dict:
    from experiments.simulate.pipeline import simulate_to_parquet

    world = _world(n_users, chunk_users, n_items, seed=1)
    t = time.perf_counter()
    res = simulate_to_parquet(world, out, progress=True)
    secs = time.perf_counter() - t
    rows = res.counts["exposure_rows"] + res.counts["event_rows"]
    return {"users": n_users, "rows": rows, "exposures": res.counts["exposures"], "seconds": secs,
            "rows_per_s": rows / secs, "peak_rss_mb": _peak_mb()}


def child_naive(n_users: int, n_items: int, out: str) -> dict:
    """The same model, one user and one exposure at a time in Python."""
    import numpy as np
    import pandas as pd

    world = _world(n_users, n_users, n_items, seed=1)
    t = time.perf_counter()
    rnd = random.Random(1)
    exposures, events = [], []
    days = len(world.day_names)
    item_ids = world.item_ids.to_pylist()
    user_ids = world.user_ids.to_pylist()
    cat_items = {c: np.flatnonzero(world.item_cat == c).tolist() for c in range(len(world.cat_names))}
    n_seg = world.lookup.shape[2] - 1
    for u in range(world.n_users):
        arm = int(world.user_arm[u])
        if arm < 0:
            continue
        persona, seg = int(world.user_persona[u]), int(world.user_seg[u])
        lam = world.user_activity[u] * 0.2 * world.day_weight.sum()
        n_sess = np.random.poisson(lam)
        for _ in range(n_sess):
            day = rnd.randrange(days)
            ts = int(world.day_start_us[day]) + int(rnd.random() * 86400e6)
            for _k in range(1 + np.random.poisson(2.5)):
                ts += int(rnd.expovariate(1 / 25.0) * 1e6)
                cats = world.aff_cdf[persona]
                c = min(int(sum(rnd.random() > x for x in cats)), len(cats) - 1)
                item = rnd.choice(cat_items[c])
                row = world.lookup[arm, item, seg]
                if row < 0:
                    row = world.lookup[arm, item, n_seg]
                row = world.n_reason_rows + item if row < 0 else row
                p = min(0.04 * world.user_click[u] * world.item_quality[item] * math.exp(world.ctr_eff[row, persona]), 0.95)
                eid = f"x{len(exposures)}"
                exposures.append({"event_id": eid, "ts": ts, "experiment": "bench", "user_id": user_ids[u],
                                  "item_id": item_ids[item], "arm": world.arms[arm], "reason_id": None,
                                  "fallback": False})
                if rnd.random() < p:
                    cts = ts + int(rnd.lognormvariate(math.log(15), 1.2) * 1e6)
                    events.append({"event_id": f"e{len(events)}", "ts": cts, "user_id": user_ids[u],
                                   "item_id": item_ids[item], "type": "click", "revenue": None, "order_id": None})
                    if rnd.random() < 0.07:
                        events.append({"event_id": f"e{len(events)}", "ts": cts + 1800_000_000,
                                       "user_id": user_ids[u], "item_id": item_ids[item], "type": "order",
                                       "revenue": float(world.item_eff_price[item]), "order_id": f"o{len(events)}"})
        for _g in range(np.random.poisson(world.user_activity[u] * 0.3 * 29)):
            events.append({"event_id": f"e{len(events)}", "ts": int(world.day_start_us[0]) - int(rnd.random() * 14 * 86400e6),
                           "user_id": user_ids[u], "item_id": "organic", "type": "click", "revenue": None,
                           "order_id": None})
    pd.DataFrame(exposures).to_parquet(Path(out) / "x.parquet")
    pd.DataFrame(events).to_parquet(Path(out) / "e.parquet")
    secs = time.perf_counter() - t
    rows = len(exposures) + len(events)
    return {"users": n_users, "rows": rows, "exposures": len(exposures), "seconds": secs, "rows_per_s": rows / secs,
            "peak_rss_mb": _peak_mb()}


def _run(args: list[str]) -> dict:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--chunk-users", type=int, default=50_000)
    ap.add_argument("--baseline-users", type=int, default=5_000)
    ap.add_argument("--items", type=int, default=2000)
    ap.add_argument("--child", choices=["ours", "naive"])
    a = ap.parse_args()
    if a.child:
        with tempfile.TemporaryDirectory() as out:
            res = (child_ours(a.users, a.chunk_users, a.items, out) if a.child == "ours"
                   else child_naive(a.users, a.items, out))
        print(json.dumps(res))
        return
    chunked = _run(["--child", "ours", "--users", str(a.users), "--chunk-users", str(a.chunk_users), "--items", str(a.items)])
    single = _run(["--child", "ours", "--users", str(a.users), "--chunk-users", str(a.users), "--items", str(a.items)])
    naive = _run(["--child", "naive", "--users", str(a.baseline_users), "--items", str(a.items)])
    print(f"{'variant':<34} {'users':>9} {'rows':>11} {'sec':>8} {'rows/s':>11} {'peak RSS MB':>12}")
    for name, r in ((f"ours, chunks of {a.chunk_users}", chunked), ("ours, one chunk", single),
                    ("naive Python loop", naive)):
        print(f"{name:<34} {r['users']:>9} {r['rows']:>11} {r['seconds']:>8.2f} {r['rows_per_s']:>11.0f} "
              f"{r['peak_rss_mb']:>12.0f}")
    print(json.dumps({
        "bench": "simulate", "users": a.users, "rows": chunked["rows"], "exposures": chunked["exposures"],
        "events_per_s": round(chunked["rows_per_s"]), "peak_rss_mb": round(chunked["peak_rss_mb"]),
        "one_chunk_peak_rss_mb": round(single["peak_rss_mb"]), "baseline_events_per_s": round(naive["rows_per_s"]),
        "speedup_vs_naive": round(chunked["rows_per_s"] / naive["rows_per_s"], 1),
        "memory_ratio_one_chunk_vs_chunked": round(single["peak_rss_mb"] / chunked["peak_rss_mb"], 2),
    }))


if __name__ == "__main__":
    main()

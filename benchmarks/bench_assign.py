"""Assignment throughput: numpy-vectorized `assign_arms` vs a plain per-id Python loop of the same function.

    python benchmarks/bench_assign.py --ids 1000000      # the issue's goal: >= 1M ids/s on one core
    python benchmarks/bench_assign.py --ids 100000       # quick

Ids: a mix of ASCII ids with leading zeros and (--unicode share) Chinese/emoji ids, hashed with
hash v2 under a 3-arm spec with coverage 0.9. The loop baseline (`assign_one`, the same
definition id by id) runs on at most --loop-ids ids and its rate is extrapolated. Both results
are checked equal on the common ids. Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core, as the issue measures
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from abkit.spec import parse_spec  # noqa: E402
from experiments.assign import assign_arms, assign_one  # noqa: E402


def make_ids(n: int, unicode_share: float, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    nums = rng.integers(0, 10**9, n)
    uni = rng.random(n) < unicode_share
    names = np.array(["用户", "测试", "推荐", "😀", "🎉x", "é"])
    pick = names[rng.integers(0, len(names), n)]
    return [f"{p}{k}" if u else f"{k:010d}" for k, u, p in zip(nums.tolist(), uni.tolist(), pick.tolist(), strict=True)]


def best_of(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ids", type=int, default=1_000_000)
    ap.add_argument("--loop-ids", type=int, default=100_000, help="ids for the per-id loop baseline")
    ap.add_argument("--unicode", type=float, default=0.2, help="share of non-ASCII ids")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    spec = parse_spec({
        "key": "bench_assign", "coverage": 0.9, "start": "2026-11-01", "end": "2026-11-15",
        "primary_metric": "ctr",
        "arms": [{"name": "control", "weight": 0.34}, {"name": "a", "weight": 0.33}, {"name": "b", "weight": 0.33}],
    })
    rows = []
    for label, share in (("ascii", 0.0), (f"mixed ({args.unicode:.0%} unicode)", args.unicode)):
        ids = make_ids(args.ids, share)
        vec = best_of(lambda ids=ids: assign_arms(ids, spec), args.repeat)
        m = min(args.loop_ids, args.ids)
        loop = best_of(lambda ids=ids, m=m: [assign_one(u, spec) for u in ids[:m]], 1)
        assert assign_arms(ids[:m], spec).tolist() == [assign_one(u, spec) for u in ids[:m]]
        rows.append({"ids": label, "n": args.ids, "vectorized_s": round(vec, 4),
                     "vectorized_ids_per_s": round(args.ids / vec), "loop_n": m, "loop_s": round(loop, 4),
                     "loop_ids_per_s": round(m / loop), "speedup": round((args.ids / vec) / (m / loop), 1)})
    print(f"{'ids':24} {'n':>10} {'vectorized ids/s':>17} {'loop ids/s':>12} {'speedup':>8}")
    for r in rows:
        print(f"{r['ids']:24} {r['n']:>10,} {r['vectorized_ids_per_s']:>17,} {r['loop_ids_per_s']:>12,} "
              f"{r['speedup']:>7.1f}x")
    print(json.dumps({"benchmark": "assign", "results": rows,
                      "min_vectorized_ids_per_s": min(r["vectorized_ids_per_s"] for r in rows)}))


if __name__ == "__main__":
    main()

"""Simulator throughput and memory: today's code vs the streamed population, side by side, then a big run.

    python benchmarks/bench_simulate.py --users 200000                       # side by side only
    python benchmarks/bench_simulate.py --users 1000000 --big-users 10000000  # + 10M users, 14 days

"Today" is the simulator at BASELINE_COMMIT (extracted with `git archive`): it builds the whole
population as one DataFrame and per-user arrays for everyone. "Ours" reads users in chunks from
population.iter_users. Both simulate the same 14-day experiment with the same seed into Parquet
(exposures + events); timing covers users + world + simulation (the catalog and texts are built
first, untimed). Each variant runs in its own process (its own peak RSS); the two alternate,
best of --repeats. The outputs must be identical (same seed, same logs): the benchmark checks it.
The load average is printed beside every time (the machine is shared). Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASELINE_COMMIT = "0162d56eab610d1dc42aa30716f7ee99072077fd"  # the simulator before the streamed population
ROOT = Path(__file__).resolve().parents[1]


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _inputs(n_items: int, seed: int):
    import pandas as pd

    from abkit.spec import parse_spec
    from abkit.world.catalog import make_catalog
    from generators.corpus import build_corpus

    spec = parse_spec({"key": "bench", "start": "2026-11-01", "end": "2026-11-15", "timezone": "Asia/Shanghai",
                       "primary_metric": "ctr", "arms": [{"name": "control", "weight": 0.5},
                                                         {"name": "neural", "weight": 0.5}]})
    items = make_catalog(n_items, seed)
    reasons = pd.concat([build_corpus(items, personas=[None], seed=1).assign(arm="control"),
                         build_corpus(items, seed=2).assign(arm="neural")], ignore_index=True)
    reasons["reason_id"] = [f"r{i}" for i in range(len(reasons))]
    return spec, items, reasons


def child(variant: str, n_users: int, chunk_users: int, n_items: int, out: str) -> dict:
    from experiments.simulate.pipeline import simulate_to_parquet
    from experiments.simulate.traffic import SimOptions, build_world

    seed = 1
    spec, items, reasons = _inputs(n_items, seed)
    options = SimOptions(seed=seed, chunk_users=chunk_users)
    t0 = time.perf_counter()
    if variant in ("today", "today-world"):
        from experiments.simulate.population import make_users

        users = make_users(n_users, seed)  # the whole population in one frame
    else:
        from experiments.simulate.users import UserSource

        users = UserSource.generated(n_users, seed)  # chunks from population.iter_users
    world = build_world(spec, users, items, reasons, options)
    del users
    t1 = time.perf_counter()
    if variant == "today-world":  # today's memory before it simulates anything
        return {"variant": variant, "users": n_users, "world_seconds": t1 - t0,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}
    res = simulate_to_parquet(world, out, progress=True)
    secs = time.perf_counter() - t0
    rows = res.counts["exposure_rows"] + res.counts["event_rows"]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # before the check below
    truth = hashlib.sha256(json.dumps(res.truth, sort_keys=True).encode()).hexdigest()[:16]
    return {"variant": variant, "users": n_users, "rows": rows, "exposures": res.counts["exposures"],
            "seconds": secs, "world_seconds": t1 - t0, "rows_per_s": rows / secs, "peak_rss_mb": peak,
            "truth_sha": truth, "logs_sha": _logs_sha(res.files) if n_users <= 2_000_000 else None}


def _logs_sha(files: dict[str, list[str]]) -> str:
    """A digest of the logs' values, row by row in file order (independent of the Parquet encoding)."""
    import pandas as pd
    import pyarrow.parquet as pq

    h = hashlib.sha256()
    for name in sorted(files):
        for batch in pq.ParquetFile(files[name][0]).iter_batches(batch_size=500_000):
            h.update(pd.util.hash_pandas_object(batch.to_pandas(), index=False).to_numpy().tobytes())
    return h.hexdigest()[:16]


def _baseline_tree(tmp: str) -> str | None:
    """Today's code (BASELINE_COMMIT) extracted next to ours; None when git cannot provide it."""
    dest = Path(tmp) / "baseline"
    dest.mkdir()
    try:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", BASELINE_COMMIT, "abkit", "experiments",
                                  "generators"], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"note: no baseline tree ({exc}); today's code is not measured")
        return None
    return str(dest)


def _run(variant: str, path: str, n_users: int, chunk_users: int, n_items: int) -> dict:
    env = {**os.environ, "PYTHONPATH": path}
    args = [sys.executable, __file__, "--child", variant, "--users", str(n_users), "--chunk-users",
            str(chunk_users), "--items", str(n_items)]
    load = _load()
    proc = subprocess.run(args, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"{variant} run failed:\n{proc.stderr[-3000:]}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["load"] = f"{load} -> {_load()}"
    return res


def _row(name: str, r: dict) -> str:
    return (f"{name:<26} {r['users']:>10,} {r['rows']:>12,} {r['seconds']:>8.1f} {r['world_seconds']:>7.1f} "
            f"{r['rows_per_s']:>10,.0f} {r['peak_rss_mb']:>9,.0f}   {r['load']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=200_000, help="users of the side-by-side runs")
    ap.add_argument("--big-users", type=int, default=0, help="users of one more run of ours (e.g. 10000000)")
    ap.add_argument("--today-world-users", type=int, default=0,
                    help="users of one more run of today's code that only builds its world (its memory at that size)")
    ap.add_argument("--chunk-users", type=int, default=200_000)
    ap.add_argument("--items", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=2, help="alternating runs of each variant (best kept)")
    ap.add_argument("--child", choices=["today", "today-world", "ours"])
    a = ap.parse_args()
    if a.child:
        with tempfile.TemporaryDirectory() as out:
            print(json.dumps(child(a.child, a.users, a.chunk_users, a.items, out)))
        return
    print(f"load average at start: {_load()}  (cores: {os.cpu_count()})")
    with tempfile.TemporaryDirectory() as tmp:
        baseline = _baseline_tree(tmp)
        best: dict[str, dict] = {}
        for _ in range(a.repeats):
            for variant, path in (("today", baseline), ("ours", str(ROOT))):
                if path is None:
                    continue
                r = _run(variant, path, a.users, a.chunk_users, a.items)
                if variant not in best or r["seconds"] < best[variant]["seconds"]:
                    best[variant] = r
        big = _run("ours", str(ROOT), a.big_users, a.chunk_users, a.items) if a.big_users else None
        today_world = (_run("today-world", baseline, a.today_world_users, a.chunk_users, a.items)
                       if a.today_world_users and baseline else None)
    today, ours = best.get("today"), best["ours"]
    print(f"{'variant':<26} {'users':>10} {'rows':>12} {'sec':>8} {'world':>7} {'rows/s':>10} {'peak MB':>9}   load 1/5/15 min")
    if today:
        print(_row("today (one frame)", today))
    print(_row("ours (streamed users)", ours))
    if big:
        print(_row("ours, big run", big))
    if today_world:
        print(f"{'today, world only':<26} {today_world['users']:>10,} {'-':>12} {'-':>8} "
              f"{today_world['world_seconds']:>7.1f} {'-':>10} {today_world['peak_rss_mb']:>9,.0f}   {today_world['load']}")
    same = None
    if today:
        same = today["truth_sha"] == ours["truth_sha"] and today["logs_sha"] == ours["logs_sha"]
        print(f"same logs and truth for the same seed: {'yes' if same else 'NO'}; rows/s ours / today: "
              f"{ours['rows_per_s'] / today['rows_per_s']:.2f}x, peak RSS today / ours: "
              f"{today['peak_rss_mb'] / ours['peak_rss_mb']:.2f}x")
    print(json.dumps({
        "bench": "simulate", "users": a.users, "days": 14, "chunk_users": a.chunk_users, "rows": ours["rows"],
        "today_rows_per_s": round(today["rows_per_s"]) if today else None, "ours_rows_per_s": round(ours["rows_per_s"]),
        "ratio": round(ours["rows_per_s"] / today["rows_per_s"], 2) if today else None,
        "today_peak_rss_mb": round(today["peak_rss_mb"]) if today else None, "ours_peak_rss_mb": round(ours["peak_rss_mb"]),
        "same_output": same,
        "big_users": a.big_users or None, "big_rows": big["rows"] if big else None,
        "big_seconds": round(big["seconds"], 1) if big else None,
        "big_rows_per_s": round(big["rows_per_s"]) if big else None,
        "big_peak_rss_mb": round(big["peak_rss_mb"]) if big else None,
        "today_world_users": a.today_world_users or None,
        "today_world_peak_rss_mb": round(today_world["peak_rss_mb"]) if today_world else None,
        "loadavg_end": [round(x, 2) for x in os.getloadavg()],
    }))


if __name__ == "__main__":
    main()

"""Benchmark: refreshing a running experiment from one new day vs a full recompute.

The logs are bench_analyze.py's (its generator, imported: 14 days, at --scale 1 10M users and
100M exposures; --scale 0.3 = 30M). The first 13 days (rows ingested before 2026-11-14) are
analyzed once with the state on (``analyze(state="auto")``, which builds the state); then day 14
(rows ingested on 2026-11-14: new exposures, clicks and orders, refunds of older orders) is
added and, side by side on the same warehouse, timed:

- refresh: ``analyze(state="auto")`` — reads the rows after the watermark, updates the state,
  derives every stage table (seen, excluded, attributed, per_user, user_texts) from it, the daily
  block and the stored text-feature levels too, runs the rest of the analysis;
- full:    ``analyze()`` — the full recompute over all 14 days (the baseline).

Both are what a user runs (bench_analyze's "full"): reasons joined, text metrics, text features,
samples, the daily block and a breakdown by the viewer's segment; each run prints its per-block
seconds (``--timings``) and its slowest statements.

Each run is a fresh process on a fresh copy of the warehouse file (a refresh consumes the new
day), alternating refresh and full, best of --repeat. Both results are compared number by number
(they must agree to 1e-9). The target: refresh <= 20% of full at --scale 0.3.

    python benchmarks/bench_refresh.py --scale 0.03     # 3M exposures (a minute)
    python benchmarks/bench_refresh.py --scale 0.3      # 30M exposures

Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import multiprocessing as mp
import os
import shutil
import sys
import time
from pathlib import Path
from queue import Empty
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_analyze import DIMENSIONS, SPEC, generate, peak_rss_bytes  # noqa: E402  (the same logs as bench_analyze)

NEW_DAY = dt.datetime(2026, 11, 14)
DAY_AFTER = NEW_DAY + dt.timedelta(days=1)
LOGS = ("exposures", "events")


def prepare(source: Path, base: Path) -> dict[str, int]:
    """``base``: the warehouse as of the end of day 13, day 14's rows held aside in new_<table>."""
    import duckdb

    shutil.copy(source, base)
    con = duckdb.connect(str(base))
    counts = {}
    for t in LOGS:
        con.execute(f"CREATE TABLE new_{t} AS SELECT * FROM {t} WHERE ingested_at >= ? AND ingested_at < ?",
                    [NEW_DAY, DAY_AFTER])
        con.execute(f"DELETE FROM {t} WHERE ingested_at >= ?", [NEW_DAY])
        counts[t] = con.execute(f"SELECT count(*) FROM new_{t}").fetchall()[0][0]
    con.execute("CHECKPOINT")
    con.close()
    return counts


def add_new_day(db: Path) -> None:
    import duckdb

    con = duckdb.connect(str(db))
    for t in LOGS:
        con.execute(f"INSERT INTO {t} SELECT * FROM new_{t}")
    con.execute("CHECKPOINT")
    con.close()


def phase(name: str, db: str, args: dict[str, Any], out: Any) -> None:
    """One analysis in this (fresh) process: seconds, peak RSS, what the state did, the result."""
    from abkit.spec import parse_spec
    from abkit.warehouse import connect
    from experiments.analysis.analyze import analyze

    spec = parse_spec(dict(SPEC))
    con = connect(db, memory_limit=args["memory_limit"], temp_dir=args["tmp"])
    con.execute(f"SET threads = {int(os.environ.get('BENCH_THREADS', '2'))}")
    log: list[Any] = []
    queries: list[Any] = []
    t, cpu = time.perf_counter(), time.process_time()
    blocks: dict[str, float] = {}
    result = analyze(spec, con, state="off" if name == "full" else "auto", state_log=log, text_metrics=True,
                     dimensions=args["dimensions"], query_log=queries, timings=blocks)
    seconds, cpu_seconds = time.perf_counter() - t, time.process_time() - cpu
    con.close()
    steps: dict[str, float] = {}
    for step, s in [*log[-1].timings, *((getattr(q, "name", "?"), s) for q, s in queries)]:
        steps[step] = steps.get(step, 0.0) + s
    out.put({"phase": name, "seconds": seconds, "cpu_seconds": cpu_seconds, "peak_rss_bytes": peak_rss_bytes(), "mode": log[-1].mode,
             "steps": steps, "blocks": blocks, "result": result.to_json()})


def run(name: str, db: Path, args: argparse.Namespace) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    queue: Any = ctx.Queue()
    opts = {"memory_limit": args.memory_limit, "tmp": str(args.tmp), "dimensions": args.dimension}
    p = ctx.Process(target=phase, args=(name, str(db), opts, queue))
    p.start()
    while True:  # a phase that fails (its traceback is on stderr) must not leave us waiting forever
        try:
            r = queue.get(timeout=5)
            break
        except Empty:
            if not p.is_alive():
                sys.exit(f"bench_refresh: the {name} phase failed (exit code {p.exitcode}); see its error above")
    p.join()
    top = sorted(r["steps"].items(), key=lambda kv: -kv[1])[:args.show_steps]
    print(f"  {name:8s} {r['seconds']:8.2f} s ({r['cpu_seconds']:.2f} CPU s)  {r['peak_rss_bytes'] / 2**30:6.2f} GB  ({r['mode']}; "
          f"load {os.getloadavg()[0]:.1f}); slowest steps: " + ", ".join(f"{k} {v:.2f}" for k, v in top),
          file=sys.stderr)
    print("           blocks: " + ", ".join(f"{k} {v:.2f}" for k, v in sorted(r["blocks"].items(), key=lambda kv: -kv[1])),
          file=sys.stderr)
    return r


def max_difference(a: Any, b: Any, path: str = "") -> tuple[float, str]:
    """The largest relative difference between two JSON values (inf where they differ otherwise)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return math.inf, path
        pairs = [max_difference(a[k], b[k], f"{path}.{k}") for k in a if k != "computed_at"]
        return max(pairs, default=(0.0, path))
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return math.inf, path
        return max((max_difference(x, y, f"{path}[{i}]") for i, (x, y) in enumerate(zip(a, b, strict=True))), default=(0.0, path))
    if isinstance(a, float | int) and isinstance(b, float | int) and not isinstance(a, bool):
        return abs(a - b) / max(1.0, abs(a), abs(b)), path
    return (0.0, path) if a == b else (math.inf, path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=0.03, help="0.3 = 3M users / 30M exposures over 14 days")
    ap.add_argument("--source", type=Path, default=None, help="generated logs (made when missing)")
    ap.add_argument("--memory-limit", default="3GB")
    ap.add_argument("--tmp", type=Path, default=Path("/tmp/abkit_bench_spill"))
    ap.add_argument("--repeat", type=int, default=1, help="refresh/full pairs; the fastest of each is reported")
    ap.add_argument("--dimension", action="append", default=None,
                    help=f"breakdown dimension (both sides; default {', '.join(DIMENSIONS)}, as bench_analyze's full)")
    ap.add_argument("--show-steps", type=int, default=6, help="slowest statements printed per run")
    args = ap.parse_args()
    args.dimension = list(DIMENSIONS) if args.dimension is None else args.dimension
    args.tmp.mkdir(parents=True, exist_ok=True)
    source = args.source or Path(f"/tmp/abkit_bench_refresh_src_{args.scale:g}.duckdb")
    if not source.exists():
        t = time.perf_counter()
        print(f"generating {source} at scale {args.scale:g} ...", file=sys.stderr)
        generate(source, args.scale, slice_exposures=10**12)
        print(f"  generated in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    base = source.with_name(source.stem + "_day13.duckdb")
    work = source.with_name(source.stem + "_work.duckdb")
    new_rows = prepare(source, base)
    print(f"day 14: {new_rows['exposures']:,} exposures, {new_rows['events']:,} events", file=sys.stderr)
    build = run("build", base, args)  # analyze the first 13 days: builds the state
    assert build["mode"] == "built", build["mode"]
    add_new_day(base)
    refreshes, fulls = [], []
    for _ in range(args.repeat):
        for name, runs in (("refresh", refreshes), ("full", fulls)):
            shutil.copy(base, work)
            runs.append(run(name, work, args))
    work.unlink(missing_ok=True)
    refresh = min(refreshes, key=lambda r: r["seconds"])
    full = min(fulls, key=lambda r: r["seconds"])
    assert all(r["mode"] == "refreshed" for r in refreshes), [r["mode"] for r in refreshes]
    diff, where = max_difference(refresh["result"], full["result"])
    ratio = refresh["seconds"] / full["seconds"]
    import duckdb

    con = duckdb.connect(str(base), read_only=True)
    n_x, n_e = (con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in LOGS)
    con.close()
    print(f"\nbench_refresh: {n_x:,} exposures, {n_e:,} events over 14 days; day 14 adds "
          f"{new_rows['exposures']:,} exposures and {new_rows['events']:,} events; "
          f"{os.environ.get('BENCH_THREADS', '2')} threads, memory_limit {args.memory_limit}, best of {args.repeat}; "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'phase':28s} {'seconds':>9s} {'vs full':>8s} {'CPU s':>8s} {'vs full':>8s} {'peak RSS GB':>12s}")
    rows = (("build (13 days, state on)", build), ("refresh (day 14)", refresh), ("full recompute (14 days)", full))
    for label, r in rows:
        print(f"{label:28s} {r['seconds']:9.2f} {r['seconds'] / full['seconds']:7.2f}x {r['cpu_seconds']:8.2f} "
              f"{r['cpu_seconds'] / full['cpu_seconds']:7.2f}x {r['peak_rss_bytes'] / 2**30:12.2f}")
    cpu_ratio = refresh["cpu_seconds"] / full["cpu_seconds"]
    print(f"refresh = {ratio:.1%} of a full analysis in wall time, {cpu_ratio:.1%} in CPU time (target <= 20%); "
          "largest relative difference "
          f"of any number {diff:.1e}{' at ' + where if diff else ''}")
    print(json.dumps({
        "benchmark": "bench_refresh", "scale": args.scale, "exposures": n_x, "events": n_e,
        "new_day_rows": new_rows, "seconds": {"build": round(build["seconds"], 3), "refresh": round(refresh["seconds"], 3),
                                              "full": round(full["seconds"], 3)},
        "peak_rss_gb": {k: round(r["peak_rss_bytes"] / 2**30, 3) for k, r in
                        (("build", build), ("refresh", refresh), ("full", full))},
        "cpu_seconds": {k: round(r["cpu_seconds"], 3) for k, r in (("build", build), ("refresh", refresh), ("full", full))},
        "refresh_over_full": round(ratio, 4), "refresh_over_full_cpu": round(cpu_ratio, 4), "max_relative_difference": diff,
        "load_average": round(os.getloadavg()[0], 2),
    }))


if __name__ == "__main__":
    main()

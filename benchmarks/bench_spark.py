"""Benchmark: the same analysis on DuckDB and on Spark (local mode), over the same raw Parquet logs.

Generates contract-schema logs with bench_analyze.py's generator (a second experiment in the same
table, multi-arm users, a pre-period, refunds; ``--exposures`` rows) and writes them as Parquet
parts with 1 % of the rows delivered twice. Then times, in this order:

- duckdb_ingest:  `abkit ingest` of the parts into a fresh warehouse (validation, dedup)
- duckdb_analyze: `analyze` on that warehouse (the default path)
- duckdb_raw:     `analyze` on an in-memory DuckDB reading the raw parts (the shared cleaning SQL)
- spark_start:    starting the SparkSession (local[*]; JVM start-up)
- spark_raw:      `analyze` on Spark reading the raw parts (same SQL as duckdb_raw); `--repeat`
                  runs it again on the warm session and reports the fastest

Text metrics are off (the logs have no reasons). The results must agree (users, sums); the
benchmark fails otherwise.

    python benchmarks/bench_spark.py --exposures 1000000          # a quick look
    python benchmarks/bench_spark.py --exposures 20000000         # 20M exposures

Ends with one JSON line of figures and ratios.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _bench_analyze() -> Any:
    spec = importlib.util.spec_from_file_location("bench_analyze", HERE / "bench_analyze.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def write_logs(out: Path, n_exposures: int, threads: int) -> dict[str, int]:
    """Parquet parts of exposures and events (contract columns only), 1 % of rows duplicated."""
    import duckdb

    ba = _bench_analyze()
    db = out / "gen.duckdb"
    ba.generate(db, n_exposures / 100_000_000, slice_exposures=10**12)
    con = duckdb.connect(str(db))
    con.execute(f"SET threads = {threads}")
    rows = {}
    for table, cols in (("exposures", "event_id, ts, experiment, user_id, item_id, arm, reason_id"),
                        ("events", "event_id, ts, user_id, item_id, type, revenue, order_id")):
        folder = out / table
        con.execute(f"""COPY (SELECT {cols} FROM {table}
                              UNION ALL SELECT {cols} FROM {table} WHERE hash(event_id || 'dup') % 100 = 0)
                        TO '{folder}' (FORMAT parquet, PER_THREAD_OUTPUT true)""")  # fixed names only
        rows[table] = int(con.execute(f"SELECT count(*) FROM read_parquet('{folder}/*.parquet')").fetchone()[0])
    con.close()
    db.unlink()
    return rows


def _summary(result: Any) -> dict[str, Any]:
    d = result.to_json()
    ctr = next(r for r in d["metrics"] if r["metric"] == "ctr")
    return {"users": d["users"], "ctr_rel_lift": ctr["rel_lift"], "ctr_p_value": ctr["p_value"],
            "input_rows": d.get("input_rows")}


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a["users"] == b["users"] and all(
        math.isclose(a[k], b[k], rel_tol=1e-9, abs_tol=1e-12) for k in ("ctr_rel_lift", "ctr_p_value"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--exposures", type=int, default=20_000_000, help="exposure rows before duplication")
    ap.add_argument("--dir", type=Path, default=None, help="work folder (default: a temp folder, removed)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2, help="DuckDB threads (Spark: local[N])")
    ap.add_argument("--memory-limit", default="4GB", help="DuckDB memory limit")
    ap.add_argument("--spark-memory", default="4g", help="spark.driver.memory (local mode)")
    ap.add_argument("--repeat", type=int, default=1, help="Spark runs on the warm session; fastest reported")
    args = ap.parse_args()

    import duckdb

    from abkit.spec import parse_spec
    from abkit.warehouse import connect
    from experiments.analysis.analyze import analyze
    from experiments.analysis.engines import DuckDBEngine, Sources
    from experiments.analysis.engines.spark_engine import SparkEngine
    from experiments.analysis.sources import analyze_sources
    from experiments.ingest.files import ingest_files

    ba = _bench_analyze()
    spec = parse_spec(ba.SPEC)
    work = args.dir or Path(tempfile.mkdtemp(prefix="abkit_bench_spark_"))
    work.mkdir(parents=True, exist_ok=True)
    times: dict[str, float] = {}
    t = time.perf_counter()
    rows = write_logs(work, args.exposures, args.threads)
    times["generate"] = time.perf_counter() - t
    sources = Sources(exposures=str(work / "exposures"), events=str(work / "events"))
    summaries: dict[str, dict[str, Any]] = {}
    try:
        con = connect(work / "w.duckdb", memory_limit=args.memory_limit, temp_dir=str(work / "spill"))
        con.execute(f"SET threads = {args.threads}")
        t = time.perf_counter()
        for table in ("exposures", "events"):
            ingest_files(con, table, sorted(str(p) for p in (work / table).glob("*.parquet")))
        times["duckdb_ingest"] = time.perf_counter() - t
        t = time.perf_counter()
        summaries["duckdb_analyze"] = _summary(analyze(spec, con, text_metrics=False))
        times["duckdb_analyze"] = time.perf_counter() - t
        con.close()

        mem = duckdb.connect()
        mem.execute(f"SET threads = {args.threads}")
        mem.execute("SET memory_limit = ?", [args.memory_limit])
        t = time.perf_counter()
        summaries["duckdb_raw"] = _summary(analyze_sources(spec, DuckDBEngine(mem), sources, text_metrics=False))
        times["duckdb_raw"] = time.perf_counter() - t
        mem.close()

        t = time.perf_counter()
        engine = SparkEngine.start({"spark.master": f"local[{args.threads}]", "spark.driver.memory": args.spark_memory,
                                    "spark.ui.enabled": "false", "spark.local.dir": str(work / "spark")})
        times["spark_start"] = time.perf_counter() - t
        runs = []
        for _ in range(max(1, args.repeat)):
            t = time.perf_counter()
            summaries["spark_raw"] = _summary(analyze_sources(spec, engine, sources, text_metrics=False))
            runs.append(time.perf_counter() - t)
        times["spark_raw"] = min(runs)
        times["spark_raw_first"] = runs[0]
        engine.spark.stop()
    finally:
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)

    agree = _same(summaries["duckdb_analyze"], summaries["duckdb_raw"]) and \
        _same(summaries["duckdb_analyze"], summaries["spark_raw"])
    n = rows["exposures"]
    print(f"\nraw rows: {rows['exposures']:,} exposures, {rows['events']:,} events; threads {args.threads}; "
          f"users {summaries['spark_raw']['users']}")
    print(f"{'phase':<16}{'seconds':>10}{'M exposures/s':>16}")
    for name in ("duckdb_ingest", "duckdb_analyze", "duckdb_raw", "spark_start", "spark_raw"):
        rate = "" if name == "spark_start" else f"{n / times[name] / 1e6:>16.2f}"
        print(f"{name:<16}{times[name]:>10.2f}{rate}")
    print(f"spark_raw / duckdb_raw = {times['spark_raw'] / times['duckdb_raw']:.1f}x; "
          f"spark (start + raw) / duckdb (ingest + analyze) = "
          f"{(times['spark_start'] + times['spark_raw']) / (times['duckdb_ingest'] + times['duckdb_analyze']):.1f}x; "
          f"results agree: {agree}")
    print(json.dumps({
        "benchmark": "spark", "exposures": args.exposures, "raw_rows": rows, "threads": args.threads,
        "seconds": {k: round(v, 3) for k, v in times.items()},
        "ratios": {"spark_raw_vs_duckdb_raw": round(times["spark_raw"] / times["duckdb_raw"], 3),
                   "spark_total_vs_duckdb_ingest_analyze": round(
                       (times["spark_start"] + times["spark_raw"]) / (times["duckdb_ingest"] + times["duckdb_analyze"]), 3)},
        "results_agree": agree, "users": summaries["spark_raw"]["users"],
        "input_rows": summaries["spark_raw"]["input_rows"],
    }))
    if not agree:
        raise SystemExit("engines disagree: " + json.dumps(summaries, default=str))


if __name__ == "__main__":
    main()

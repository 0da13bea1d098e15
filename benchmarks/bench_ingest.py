"""Ingest throughput: `ingest_files` (validate, quarantine, dedupe, insert) vs a plain pandas baseline.

    python benchmarks/bench_ingest.py --rows 10000000          # the issue's size
    python benchmarks/bench_ingest.py --rows 200000 --csv      # quick, plus the CSV path

The file is an events log: string ids (leading zeros), ISO timestamps as a Parquet TIMESTAMP,
types, revenue on orders, an extra `platform` column, 0.1% bad rows and 0.1% duplicated ids.
Baseline: `pandas.read_parquet` then `INSERT INTO events SELECT ... FROM df` (DuckDB's scan of
the DataFrame, `platform` kept in `extra` as abkit does) — no validation, no quarantine, no
dedupe. Each run starts from an empty database; "re-ingest" times abkit loading the same file
again (every row a duplicate or already quarantined).
Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from abkit.warehouse import connect  # noqa: E402
from experiments.ingest.files import ingest_files  # noqa: E402


def make_events(path: Path, rows: int, fmt: str) -> None:
    """Write the test file with DuckDB (fast); ~0.1% bad rows and ~0.1% re-sent ids."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    query = f"""
        SELECT CASE WHEN i % 1000 = 7 THEN 'e' || lpad(CAST(i - 1 AS VARCHAR), 10, '0')
                    ELSE 'e' || lpad(CAST(i AS VARCHAR), 10, '0') END AS event_id,
               TIMESTAMP '2026-11-01' + to_seconds(CAST(i % 1209600 AS BIGINT)) AS ts,
               lpad(CAST(hash(i) % 1000000 AS VARCHAR), 7, '0') AS user_id,
               'i' || CAST(hash(i * 7) % 5000 AS VARCHAR) AS item_id,
               CASE WHEN i % 1000 = 3 THEN 'view'
                    WHEN i % 50 = 0 THEN 'order' WHEN i % 7 = 0 THEN 'cart' ELSE 'click' END AS type,
               CASE WHEN i % 50 = 0 THEN round(10 + (hash(i) % 10000) / 100.0, 2) END AS revenue,
               CASE WHEN i % 50 = 0 THEN 'O' || CAST(i AS VARCHAR) END AS order_id,
               CASE WHEN i % 2 = 0 THEN 'ios' ELSE 'android' END AS platform
        FROM range({rows}) t(i)"""
    if fmt == "parquet":
        con.execute(f"COPY ({query}) TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE 122880)")
    else:
        con.execute(f"COPY ({query}) TO '{path}' (FORMAT csv, HEADER, TIMESTAMPFORMAT '%Y-%m-%dT%H:%M:%SZ')")
    con.close()


def run_abkit(db: Path, files: list[Path]) -> tuple[float, dict]:
    con = connect(db)
    t = time.perf_counter()
    rep = ingest_files(con, "events", files)
    elapsed = time.perf_counter() - t
    con.close()
    tot = rep.total
    return elapsed, {"read": tot.read, "accepted": tot.accepted, "quarantined": tot.quarantined,
                     "duplicates": tot.duplicates}


def run_pandas(db: Path, path: Path) -> float:
    import pandas as pd

    con = connect(db)
    t = time.perf_counter()
    df = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, dtype=str)
    con.register("df", df)
    con.execute("""INSERT INTO events (event_id, ts, user_id, item_id, type, revenue, order_id, extra, source_file,
                                       ingested_at)
                   SELECT event_id, CAST(ts AS TIMESTAMP), user_id, item_id, type, CAST(revenue AS DOUBLE),
                          order_id, CAST({'platform': platform} AS MAP(VARCHAR, VARCHAR)), 'df', now() FROM df""")
    elapsed = time.perf_counter() - t
    con.close()
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--csv", action="store_true", help="also time the CSV path")
    ap.add_argument("--dir", type=Path, default=None, help="work folder (default: a temp dir)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        tmp = Path(tmp)
        results = []
        for fmt in ("parquet", "csv") if args.csv else ("parquet",):
            path = tmp / f"events.{fmt}"
            t = time.perf_counter()
            make_events(path, args.rows, fmt)
            gen = time.perf_counter() - t
            ours, counts = run_abkit(tmp / f"abkit_{fmt}.duckdb", [path])
            again, recount = run_abkit(tmp / f"abkit_{fmt}.duckdb", [path])  # re-ingest: all duplicates
            base = run_pandas(tmp / f"pandas_{fmt}.duckdb", path)
            assert counts["read"] == args.rows == sum(v for k, v in counts.items() if k != "read")
            assert recount["accepted"] == 0
            results.append({"format": fmt, "rows": args.rows, "generate_s": round(gen, 2),
                            "abkit_s": round(ours, 3), "abkit_rows_per_s": round(args.rows / ours),
                            "reingest_s": round(again, 3),
                            "pandas_s": round(base, 3), "pandas_rows_per_s": round(args.rows / base),
                            "speedup_vs_pandas": round(base / ours, 2), **counts})
    print(f"{'format':8} {'rows':>12} {'abkit s':>9} {'abkit rows/s':>14} {'re-ingest s':>12} "
          f"{'pandas s':>9} {'pandas rows/s':>14} {'ratio':>6}")
    for r in results:
        print(f"{r['format']:8} {r['rows']:>12,} {r['abkit_s']:>9.2f} {r['abkit_rows_per_s']:>14,} "
              f"{r['reingest_s']:>12.2f} {r['pandas_s']:>9.2f} {r['pandas_rows_per_s']:>14,} "
              f"{r['speedup_vs_pandas']:>5.2f}x")
    print("abkit validates, quarantines and dedupes; the pandas baseline only inserts. "
          f"abkit counts: {results[0]['accepted']:,} accepted, {results[0]['quarantined']:,} quarantined, "
          f"{results[0]['duplicates']:,} duplicates")
    print(json.dumps({"benchmark": "ingest", "results": results}))


if __name__ == "__main__":
    main()

"""Benchmark: `abkit ui` page loads on a warehouse (the demo's by default) against today's paths.

Starts `abkit ui` on 127.0.0.1 and a free port (stopped at the end), then for each page takes
the median of --repeat loads (bounded: a few requests, loopback only):

- list:        GET / (server time to the full HTML), first load and repeats, vs `sql_floor`: the
               same per-experiment facts (states, latest results, exposure span) straight from
               DuckDB in-process
- experiment:  GET /exp/KEY (the report's sections rendered from the stored result): first load,
               sections rendered anew (another language), repeats; vs `report_cli`: `abkit report`
               writing the self-contained HTML (what a PM runs today)
Repeats with an unchanged warehouse come from the app's cache keyed by the warehouse files'
version (any write by any process invalidates it).
- browser:     with Chromium present, navigation to the `load` event in headless Chromium for both
               pages (includes plotly.js from the app's cache) — what a PM waits for

    python benchmarks/bench_webapp.py --db demo/abkit.duckdb --specs experiments [--screenshots docs/img]

Ends with one JSON line of figures and ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[float, int]:
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as r:
        n = len(r.read())
    return time.perf_counter() - t0, n


def _median(fn, repeat: int) -> tuple[float, int]:
    runs = [fn() for _ in range(repeat)]
    return statistics.median(t for t, _ in runs), runs[-1][1]


def _sql_floor(db: Path) -> float:
    import duckdb

    t0 = time.perf_counter()
    con = duckdb.connect(str(db), read_only=True)
    con.execute("SELECT experiment, arg_max(state, changed_at) FROM experiment_state GROUP BY 1").fetchall()
    con.execute("SELECT experiment, arg_max(json_extract(result, '$.decision'), computed_at) FROM results GROUP BY 1").fetchall()
    con.execute("SELECT experiment, min(ts), max(ts) FROM exposures GROUP BY 1").fetchall()
    con.close()
    return time.perf_counter() - t0


def _report_cli(spec: Path, db: Path, env: dict[str, str]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "abkit", "report", str(spec), "--db", str(db), "--out",
                        str(Path(tmp) / "r.html")], check=True, env=env, capture_output=True)
        return time.perf_counter() - t0


def _browser(base: str, paths: dict[str, str], shots: Path | None) -> dict[str, float]:
    chromium = "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else shutil.which("chromium")
    if chromium is None:
        return {}
    from playwright.sync_api import sync_playwright

    out = {}
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        for name, path in paths.items():
            for label, vp in (("desktop", {"width": 1366, "height": 900}), ("mobile", {"width": 390, "height": 844})):
                page = b.new_page(viewport=vp)
                times = []
                for _ in range(3):
                    t0 = time.perf_counter()
                    page.goto(base + path, wait_until="load", timeout=180_000)
                    times.append(time.perf_counter() - t0)
                if label == "desktop":
                    out[name] = statistics.median(times)
                if shots is not None:
                    page.wait_for_timeout(600)
                    page.screenshot(path=str(shots / f"ui-{name}-{label}.png"), full_page=label == "mobile" and name != "experiment")
                page.close()
        b.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, default=ROOT / "demo" / "abkit.duckdb")
    ap.add_argument("--specs", type=Path, default=ROOT / "experiments")
    ap.add_argument("--key", default="reason_three_arm")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--screenshots", type=Path, default=None, help="also write page screenshots here")
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "abkit", "ui", "--db", str(args.db), "--specs", str(args.specs),
                               "--port", str(port), "--lang", "en"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                _get(base + "/static/app.css")
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    sys.exit("abkit ui did not start")
                time.sleep(0.3)
        _get(base + "/new")  # imports the app's own stack
        list_first_s, _ = _get(base + "/")  # computed from the warehouse
        exp_first_s, _ = _get(base + f"/exp/{args.key}")  # includes the report stack's first import
        exp_fresh_s, _ = _get(base + f"/exp/{args.key}?lang=zh")  # sections rendered anew, imports done
        _get(base + f"/exp/{args.key}?lang=en")
        # repeats: the warehouse did not change, so pages come from the app's per-version cache
        list_s, list_bytes = _median(lambda: _get(base + "/"), args.repeat)
        exp_s, exp_bytes = _median(lambda: _get(base + f"/exp/{args.key}"), args.repeat)
        floor_s = statistics.median(_sql_floor(args.db) for _ in range(args.repeat))
        spec = next(p for p in args.specs.glob("*.yaml") if f"key: {args.key}" in p.read_text(encoding="utf-8"))
        report_s = statistics.median(_report_cli(spec, args.db, env) for _ in range(min(args.repeat, 3)))
        if args.screenshots:
            args.screenshots.mkdir(parents=True, exist_ok=True)
        browser = _browser(base, {"list": "/", "form": f"/exp/{args.key}/edit", "experiment": f"/exp/{args.key}"},
                           args.screenshots)
    finally:
        server.terminate()
        server.wait(timeout=20)
    rows = [("list page, first load (GET /)", list_first_s, "sql_floor (same facts, in-process)", floor_s),
            ("list page, repeat (warehouse unchanged)", list_s, "sql_floor (same facts, in-process)", floor_s),
            ("experiment page, first load (+imports)", exp_first_s, "abkit report (static HTML, today)", report_s),
            ("experiment page, sections rendered anew", exp_fresh_s, "abkit report (static HTML, today)", report_s),
            ("experiment page, repeat", exp_s, "abkit report (static HTML, today)", report_s)]
    print(f"warehouse: {args.db} ({args.db.stat().st_size / 1e6:.0f} MB); median of {args.repeat}")
    print(f"{'ours':<44} {'s':>7}   {'baseline':<36} {'s':>7}")
    for a, ta, b, tb in rows:
        print(f"{a:<44} {ta:>7.3f}   {b:<36} {tb:>7.3f}")
    for name, t in browser.items():
        print(f"browser load event: {name:<24} {t:>7.3f} s")
    print(json.dumps({"bench": "webapp", "db_mb": round(args.db.stat().st_size / 1e6),
                      "list_first_s": round(list_first_s, 4), "experiment_first_s": round(exp_first_s, 3),
                      "experiment_fresh_s": round(exp_fresh_s, 3), "list_s": round(list_s, 4),
                      "list_kb": round(list_bytes / 1e3), "sql_floor_s": round(floor_s, 4),
                      "experiment_s": round(exp_s, 4), "experiment_kb": round(exp_bytes / 1e3),
                      "report_cli_s": round(report_s, 3), "experiment_vs_report_cli": round(exp_s / report_s, 3),
                      "list_vs_sql_floor": round(list_s / floor_s, 2),
                      "browser_load_s": {k: round(v, 3) for k, v in browser.items()}}))


if __name__ == "__main__":
    main()

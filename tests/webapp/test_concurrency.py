"""The app never holds the warehouse: `abkit ingest` runs while pages are served, both succeed."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.slow


def _events(path: Path, n: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    ts = pd.Timestamp("2026-11-02") + pd.to_timedelta(rng.integers(0, 86400, n), unit="s")
    pd.DataFrame({"event_id": [f"{seed}-{i}" for i in range(n)], "ts": ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
                  "user_id": rng.integers(0, 5000, n).astype(str), "item_id": rng.integers(0, 300, n).astype(str),
                  "type": "click", "revenue": None}).to_csv(path, index=False)
    return path


def test_ingest_runs_while_the_app_serves_pages(serve, db: Path, specs_dir: Path, tmp_path: Path, h) -> None:
    h.store(db, h.stored_result("reason_three_arm"))
    files = [_events(tmp_path / f"events{i}.csv", 150_000, i) for i in range(3)]
    env = {**os.environ, "PYTHONPATH": str(h.ROOT)}
    with serve(db, specs_dir) as base:
        statuses: list[int] = []
        stop = threading.Event()

        def browse() -> None:
            while not stop.is_set():
                for url in ("/", "/exp/reason_three_arm", "/exp/reason_three_arm/review"):
                    try:
                        statuses.append(urllib.request.urlopen(base + url, timeout=30).status)
                    except urllib.error.HTTPError as exc:
                        statuses.append(exc.code)

        browser = threading.Thread(target=browse)
        browser.start()
        try:
            results = []
            for f in files:
                time.sleep(0.3)
                results.append(subprocess.run([sys.executable, "-m", "abkit", "ingest", "events", str(f), "--db", str(db)],
                                              capture_output=True, text=True, env=env, timeout=300))
        finally:
            stop.set()
            browser.join()
    assert [r.returncode for r in results] == [0, 0, 0], [r.stderr[-500:] for r in results]
    assert len(statuses) >= 6 and set(statuses) == {200}, statuses
    from abkit.warehouse import connect

    con = connect(db, read_only=True)
    assert con.execute("SELECT count(*) FROM events").fetchone()[0] == 450_000
    con.close()

"""Fault test: kill -9 under load, restart on the same log directory. Every logged row was
seen by the client, only rows answered in the last flush window before the kill may be
missing, no event_id repeats, no part is corrupt."""

from __future__ import annotations

import collections
import http.client
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from abkit.warehouse import connect
from tests.serving.conftest import abkit_cmd, env, make_warehouse, write_spec

FLUSH_MS = 100
SLACK_S = 1.0  # scheduling on a shared 2-core machine, on top of the flush interval


def _load(server: Any, prefix: str, items: list[str], stop: threading.Event,
          seen: list[tuple[float, tuple[str, str, str, str]]]) -> None:
    """Send requests until stopped or the server dies; record each answered item with its arrival time."""
    conn = server.connection()
    i = 0
    while not stop.is_set():
        user = f"{prefix}{i}"
        i += 1
        try:
            status, body = server.request("POST", "/v1/reasons", {"user_id": user, "items": items[i % 40: i % 40 + 20]},
                                          conn=conn)
        except (OSError, ValueError, http.client.HTTPException):  # killed: nothing of this request was shown
            return
        t = time.time()
        if status != 200:  # checked by the test: every answered request was a 200
            seen.append((t, ("status", str(status), "", "")))
            return
        for exp in body:
            if exp["arm"] is not None:
                seen.extend((t, (user, it["item_id"], exp["arm"], exp["experiment"])) for it in exp["items"])


def test_kill_9_loses_at_most_the_last_flush_window(tmp_path: Path, start_server: Any) -> None:
    db = tmp_path / "w.duckdb"
    items = make_warehouse(db)
    spec = write_spec(tmp_path / "a.yaml")
    log_dir = tmp_path / "log"
    first = start_server([spec], db, log_dir, flush_ms=FLUSH_MS)
    seen: list[tuple[float, tuple[str, str, str, str]]] = []
    stop = threading.Event()
    threads = [threading.Thread(target=_load, args=(first, f"a{k}_", items, stop, seen)) for k in range(3)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while len(seen) < 20 * 600 and time.monotonic() < deadline:
        time.sleep(0.05)
    killed_at = time.time()
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(10)
    for t in threads:
        t.join(30)
    assert len(seen) >= 20 * 300, "too little load before the kill"
    assert list(log_dir.glob(".*.tmp")), "the killed server's part should still be open"

    second = start_server([spec], db, log_dir, flush_ms=FLUSH_MS)  # finishes the orphaned part
    assert not [p for p in log_dir.glob(".*.tmp") if str(second.proc.pid) not in p.name]
    after: list[tuple[float, tuple[str, str, str, str]]] = []
    stop2 = threading.Event()
    t2 = threading.Thread(target=_load, args=(second, "b_", items, stop2, after))
    t2.start()
    time.sleep(1.0)
    stop2.set()
    t2.join(30)
    assert second.stop() in (0, -signal.SIGTERM)

    run = subprocess.run(abkit_cmd("ingest", "exposures", str(log_dir), "--db", str(db)), env=env(),
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    con = connect(db, read_only=True)
    try:
        rows = con.execute("SELECT user_id, item_id, arm, experiment, event_id FROM exposures").fetchall()
        assert con.execute("SELECT count(*) FROM quarantine").fetchone()[0] == 0  # no half-written line
    finally:
        con.close()
    assert not [k for _, k in seen + after if k[0] == "status"], "a request was refused"
    logged = collections.Counter(r[:4] for r in rows)
    assert len({r[4] for r in rows}) == len(rows)  # no event_id repeats across the restart
    seen_rows = collections.Counter(key for _, key in seen + after)
    assert not logged - seen_rows, "a logged row the client never received"
    missing = seen_rows - logged
    arrival = {key: t for t, key in seen + after}
    late = [k for k in missing if arrival[k] < killed_at - FLUSH_MS / 1000 - SLACK_S]
    assert not late, f"{len(late)} rows answered well before the kill were lost"
    assert all(k[0].startswith("a") for k in missing)  # everything after the restart is there
    assert sum(missing.values()) < len(seen) / 2

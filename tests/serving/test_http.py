"""The HTTP sidecar's contract: 4xx with one-line JSON and nothing logged, render-confirmed
mode, reload of a coverage step without a restart, metrics."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from abkit.spec import load_spec
from abkit.warehouse import connect
from experiments.assign import assign_one
from serving.coverage import record_coverage
from tests.serving.conftest import abkit_cmd, env, make_warehouse, write_spec

GOOD = {"user_id": "u1", "items": ["i00", "i01"], "attributes": {"segment": "学生党"}}
BAD: list[tuple[bytes, int, str]] = [
    (b"{not json", 400, "not valid JSON"),
    (b"[1, 2]", 400, "JSON object"),
    (json.dumps({"items": ["i1"]}).encode(), 400, "user_id"),
    (json.dumps({"user_id": 7, "items": ["i1"]}).encode(), 400, "user_id"),
    (json.dumps({"user_id": "", "items": ["i1"]}).encode(), 400, "user_id"),
    (json.dumps({"user_id": "u", "items": "i1"}).encode(), 400, "items"),
    (json.dumps({"user_id": "u", "items": ["i1", 5]}).encode(), 400, "items[1]"),
    (json.dumps({"user_id": "u", "items": ["i"] * 1001}).encode(), 400, "at most"),
    (json.dumps({"user_id": "u", "items": ["i1"], "attributes": {"arm": "treat"}}).encode(), 400, "attributes.arm"),
    (json.dumps({"user_id": "u", "items": ["i1"], "attributes": {"event_id": "x"}}).encode(), 400, "event_id"),
    (json.dumps({"user_id": "u", "items": ["i1"], "attributes": {"tags": ["a"]}}).encode(), 400, "attributes.tags"),
    (json.dumps({"user_id": "u", "items": ["i1"], "attributes": []}).encode(), 400, "attributes"),
    (json.dumps({"user_id": "u", "items": ["i1"], "page": 2}).encode(), 400, "unknown key 'page'"),
    (b'{"user_id": "u", "items": ["' + b"x" * (1 << 20) + b'"]}', 413, "larger"),
]


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in /metrics")


def test_bad_requests_get_one_line_json_and_log_nothing(tmp_path: Path, start_server: Any) -> None:
    db = tmp_path / "w.duckdb"
    make_warehouse(db)
    server = start_server([write_spec(tmp_path / "a.yaml")], db, tmp_path / "log")
    for raw, status, words in BAD:
        got, body = server.request("POST", "/v1/reasons", raw=raw)
        assert got == status, (raw[:60], body)
        assert isinstance(body, dict) and words in body["error"] and "\n" not in body["error"]
    for method, path, status in (("GET", "/v1/reasons", 405), ("GET", "/nope", 404), ("POST", "/v1/exposures", 404)):
        got, body = server.request(method, path, {} if method == "POST" else None)
        assert got == status and "error" in body
    _, metrics = server.request("GET", "/metrics")
    assert _metric(metrics, "abkit_exposures_enqueued_total") == 0
    assert 'abkit_requests_total{path="/v1/reasons",status="400"} 13' in metrics

    status, body = server.request("POST", "/v1/reasons", GOOD)
    assert status == 200 and body[0]["experiment"] == "exp_a" and len(body[0]["items"]) == 2
    deadline = time.monotonic() + 10
    while True:  # the writer flushes within --flush-ms
        _, metrics = server.request("GET", "/metrics")
        if _metric(metrics, "abkit_exposures_flushed_total") == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert _metric(metrics, "abkit_exposures_enqueued_total") == 2
    assert _metric(metrics, "abkit_exposures_flushed_total") == 2
    assert 'abkit_request_seconds_bucket{le="+Inf"} 15' in metrics  # 14 bad POSTs + 1 good, all timed
    assert 'abkit_fallbacks_total{why="item_unknown"} 2' in metrics  # GOOD's ids are not in the catalog
    assert server.stop() in (0, -signal.SIGTERM)


def test_render_confirmed_mode_logs_only_confirmed_items(tmp_path: Path, start_server: Any) -> None:
    db = tmp_path / "w.duckdb"
    items = make_warehouse(db)
    log_dir = tmp_path / "log"
    server = start_server([write_spec(tmp_path / "a.yaml")], db, log_dir, "--confirm-renders")
    tokens: list[str] = []
    for u in range(20):
        status, body = server.request("POST", "/v1/reasons", {"user_id": f"u{u}", "items": items[:6]})
        assert status == 200
        tokens += [it["token"] for it in body[0]["items"]]
    assert len(set(tokens)) == 120
    chosen = tokens[::3]
    status, body = server.request("POST", "/v1/exposures", {"tokens": chosen})
    assert status == 200 and body == {"logged": 40, "unknown": 0}
    status, body = server.request("POST", "/v1/exposures", {"tokens": chosen[:5] + ["forged"]})
    assert body == {"logged": 0, "unknown": 6}  # a second confirmation logs nothing again
    status, body = server.request("POST", "/v1/exposures", {"tokens": "x"})
    assert status == 400
    server.stop()
    subprocess.run(abkit_cmd("ingest", "exposures", str(log_dir), "--db", str(db)), env=env(), check=True,
                   capture_output=True)
    con = connect(db, read_only=True)
    try:
        ids = sorted(r[0] for r in con.execute("SELECT event_id FROM exposures").fetchall())
    finally:
        con.close()
    assert ids == sorted(chosen)


def test_reload_applies_a_coverage_step_live(tmp_path: Path, start_server: Any) -> None:
    db = tmp_path / "w.duckdb"
    items = make_warehouse(db)
    spec_path = write_spec(tmp_path / "a.yaml", coverage=1.0)
    server = start_server([spec_path], db, tmp_path / "log")
    users = [f"u{i}" for i in range(200)]

    def arms() -> list[str | None]:
        return [server.request("POST", "/v1/reasons", {"user_id": u, "items": items[:1]})[1][0]["arm"] for u in users]

    before = arms()
    assert all(a is not None for a in before)
    con = connect(db)  # the server holds no connection: this write does not wait
    try:
        record_coverage(con, "exp_a", 0.3, phase=1, hash_seed="exp_a", actor="test", reason="ramp down")
    finally:
        con.close()
    server.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 20
    while server.request("GET", "/healthz")[1]["experiments"]["exp_a"]["coverage"] != 0.3:
        assert time.monotonic() < deadline, "SIGHUP did not reload"
        time.sleep(0.1)
    after = arms()
    spec = load_spec(spec_path).model_copy(update={"coverage": 0.3})
    assert after == [assign_one(u, spec) for u in users]
    assert all(a is None or a == b for a, b in zip(after, before, strict=True))  # coverage moves nobody
    assert 0 < sum(a is None for a in after) < len(users)
    status, body = server.request("POST", "/admin/reload", {})
    assert status == 200 and body["experiments"]["exp_a"]["coverage"] == 0.3


@pytest.mark.parametrize("bad", [["--port", "0"], ["--flush-ms", "0"]])
def test_serve_rejects_bad_options(tmp_path: Path, bad: list[str]) -> None:
    run = subprocess.run(abkit_cmd("serve", str(write_spec(tmp_path / "a.yaml")), "--db", str(tmp_path / "x.duckdb"),
                                   "--log-dir", str(tmp_path / "log"), *bad), env=env(), capture_output=True, text=True)
    assert run.returncode == 2 and run.stderr.startswith("abkit: error:") and len(run.stderr.strip().splitlines()) == 1

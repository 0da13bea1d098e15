"""Shared set-up for the web app tests: a spec folder, a warehouse, an app client, form helpers."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from abkit.warehouse import connect

ROOT = Path(__file__).resolve().parents[2]
XSS = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">'


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "the page has no CSRF field"
    return m.group(1)


def form_fields(**overrides: Any) -> dict[str, str]:
    """A valid two-arm experiment as the form posts it."""
    base = {
        "is_new": "1", "original_key": "", "key": "pm_flow", "name": "PM flow", "owner": "growth",
        "arms-0-name": "control", "arms-0-weight": "0.5", "arms-0-generator": "template",
        "arms-1-name": "treatment", "arms-1-weight": "0.5", "arms-1-generator": "template",
        "control": "", "start": "2026-11-01", "end": "2026-11-08", "timezone": "UTC", "primary_metric": "ctr",
        "secondary-cvr": "on", "secondary-revenue_per_user": "on",
        "guardrails-0-metric": "conversion_rate", "guardrails-0-margin": "0.05",
        "text_guardrails": "unfaithful_rate <= 0.02", "dimensions": "", "mde": "0.05", "alpha": "0.05",
        "power": "0.8", "planned_users_per_arm": "", "coverage": "1", "cuped": "on", "op": "save",
    }
    base.update({k: str(v) for k, v in overrides.items()})
    return {k: v for k, v in base.items() if v is not None}


def message(arm: str) -> dict[str, Any]:
    """A decision sentence as the analysis stores it (a code, its parameters, English text): the arm
    name travels through the message catalogue into the page."""
    return {"code": "next_stop_arms", "params": {"arms": [arm]}, "text": f"Stop {arm} now."}


def stored_result(key: str, **decision: Any) -> dict[str, Any]:
    """A small analysis result as `abkit analyze` stores it (only the blocks the pages read)."""
    return {
        "experiment": key, "control": "control", "window_utc": ["2026-11-01T00:00:00Z", "2026-11-08T00:00:00Z"],
        "users": {"control": 1200, "treatment": 1180}, "excluded_multi_arm_users": 0,
        "srm": {"p_value": 0.7, "ok": True}, "metrics": [],
        "decision": {"action": "no_decision", "arm": None, "reasons": ["nothing significant"], **decision},
    }


def store(db: Path, result: dict[str, Any]) -> None:
    con = connect(db)
    try:
        con.execute("INSERT INTO results VALUES (?, now(), NULL, ?)", [result["experiment"], json.dumps(result)])
    finally:
        con.close()


def expose_text(db: Path, experiment: str, arm: str, text: str) -> None:
    """One item, one reason with `text` for `arm`, one exposure of it in the window (2026-11-02)."""
    con = connect(db)
    try:
        con.execute("INSERT INTO items (item_id, category, brand, title, price, discount, attributes, ingested_at) "
                    "VALUES ('i1', 'shoes', ?, ?, 99, 0, '{}', now())", [text, text])
        con.execute("INSERT INTO reasons (reason_id, experiment, arm, item_id, segment, text, ingested_at) "
                    "VALUES ('r1', ?, ?, 'i1', ?, ?, now())", [experiment, arm, text, text])
        con.execute("INSERT INTO exposures (event_id, ts, experiment, user_id, item_id, arm, reason_id, ingested_at) "
                    "VALUES ('e1', TIMESTAMP '2026-11-02 10:00:00', ?, 'u1', 'i1', ?, 'r1', now())", [experiment, arm])
    finally:
        con.close()


def payload_result(key: str, x: str) -> dict[str, Any]:
    """A stored result whose arm, reasons, verdicts, next step and samples all carry the payload."""
    result = stored_result(key, action="ship", arm=x, reasons=[x], next_step=[message(x)],
                           arms=[{"arm": x, "verdict": "ship_candidate", "reasons": [message(x)]}])
    result["users"] = {"control": 10, x: 12}
    result["samples"] = [{"arm": x, "segment": x, "item_id": "i1", "text": x}]
    return result


@pytest.fixture
def specs_dir(tmp_path: Path) -> Path:
    d = tmp_path / "specs"
    d.mkdir()
    shutil.copy(ROOT / "experiments" / "reason_three_arm.yaml", d)
    return d


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "abkit.duckdb"
    connect(path).close()
    return path


def make_client(db: Path, specs: Path, **config: Any):
    from starlette.testclient import TestClient

    from webapp.app import create_app
    from webapp.config import UIConfig

    return TestClient(create_app(UIConfig(db=db, specs=specs, **config)), base_url="http://127.0.0.1")


@pytest.fixture
def client(db: Path, specs_dir: Path):
    with make_client(db, specs_dir, user="alice") as c:
        yield c


@pytest.fixture
def h():
    """The helpers above, for test modules (tests are not a package)."""
    from types import SimpleNamespace

    return SimpleNamespace(csrf_of=csrf_of, form_fields=form_fields, stored_result=stored_result, store=store,
                           make_client=make_client, XSS=XSS, ROOT=ROOT,
                           expose_text=expose_text, payload_result=payload_result)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def serve():
    """Start `abkit ui` on 127.0.0.1 and a free port; stopped when the test ends."""
    import contextlib
    import os
    import subprocess
    import sys
    import time
    import urllib.request

    procs = []

    @contextlib.contextmanager
    def start(db: Path, specs: Path, *args: str):
        port = free_port()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        env.pop("ABKIT_UI_TOKEN", None)
        proc = subprocess.Popen([sys.executable, "-m", "abkit", "ui", "--db", str(db), "--specs", str(specs),
                                 "--port", str(port), *args], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        procs.append(proc)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(base + "/static/app.css", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    out = proc.stdout.read() if proc.stdout else ""
                    raise RuntimeError(f"abkit ui did not start: {out[-2000:]}") from None
                time.sleep(0.3)
        yield base

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except Exception:
            proc.kill()
            proc.wait()

"""Helpers for the serving tests: a small warehouse, spec files, and `abkit serve` as a subprocess
bound to 127.0.0.1 on a free port (started and stopped by the test itself)."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from abkit.warehouse import connect
from abkit.world.catalog import make_catalog

ROOT = Path(__file__).resolve().parents[2]
SEGMENTS = ["学生党", "宝妈", "白领"]


def abkit_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "abkit", *args]


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    return e


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_spec(path: Path, **overrides: Any) -> Path:
    today = dt.datetime.now(dt.UTC).date()
    data: dict[str, Any] = {
        "key": "exp_a", "arms": [{"name": "control", "weight": 0.5}, {"name": "treat", "weight": 0.5}],
        "start": str(today - dt.timedelta(days=2)), "end": str(today + dt.timedelta(days=5)),
        "primary_metric": "ctr",
    }
    data.update(overrides)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def make_warehouse(db: Path, n_items: int = 60, experiments: tuple[tuple[str, tuple[str, ...]], ...] = (
        ("exp_a", ("control", "treat")),)) -> list[str]:
    """Items, plus reasons for two thirds of them: segment texts for even items, a segment-free
    text for odd ones, none for every third. Returns the item ids."""
    catalog = make_catalog(n_items, seed=3)
    con = connect(db)
    try:
        con.register("cat", catalog)
        con.execute("""INSERT INTO items (item_id, category, brand, title, price, discount, attributes, ingested_at)
                       SELECT item_id, category, brand, title, price, discount, CAST(attributes AS JSON), now() FROM cat""")
        rows = []
        ids = catalog["item_id"].tolist()
        for exp, arms in experiments:
            for k, item in enumerate(ids):
                if k % 3 == 2:
                    continue
                for arm in arms:
                    segs = SEGMENTS if k % 2 == 0 else [None]
                    for seg in segs:
                        rows.append((f"r_{exp}_{arm}_{item}_{seg}", exp, arm, item, seg, f"{arm}:{seg}:{item}的理由"))
        con.executemany("INSERT INTO reasons (reason_id, experiment, arm, item_id, segment, text, ingested_at) "
                        "VALUES (?, ?, ?, ?, ?, ?, now())", rows)
    finally:
        con.close()
    return ids


class ServerProcess:
    """`abkit serve` on a free loopback port; a keep-alive client per thread via ``post``."""

    def __init__(self, specs: list[Path], db: Path, log_dir: Path, *extra: str, flush_ms: int = 200) -> None:
        self.port = free_port()
        self.stderr_path = log_dir.parent / f"serve-{self.port}.err"
        self.proc = subprocess.Popen(
            abkit_cmd("serve", *map(str, specs), "--db", str(db), "--log-dir", str(log_dir), "--port", str(self.port),
                      "--flush-ms", str(flush_ms), *extra),
            env=env(), stdout=subprocess.DEVNULL, stderr=open(self.stderr_path, "wb"))  # noqa: SIM115
        deadline = time.monotonic() + 60
        while True:
            try:
                status, _ = self.request("GET", "/healthz")
                if status == 200:
                    return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"abkit serve did not start: {self.stderr_path.read_text()[-2000:]}")
            time.sleep(0.1)

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def request(self, method: str, path: str, body: Any = None, conn: http.client.HTTPConnection | None = None,
                raw: bytes | None = None) -> tuple[int, Any]:
        own = conn is None
        c = conn or self.connection()
        try:
            payload = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
            c.request(method, path, body=payload, headers={"Content-Type": "application/json"})
            r = c.getresponse()
            data = r.read()
            ctype = r.getheader("content-type") or ""
            return r.status, json.loads(data) if ctype.startswith("application/json") else data.decode()
        finally:
            if own:
                c.close()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)


@pytest.fixture
def start_server() -> Iterator[Any]:
    started: list[ServerProcess] = []

    def start(*args: Any, **kwargs: Any) -> ServerProcess:
        s = ServerProcess(*args, **kwargs)
        started.append(s)
        return s

    yield start
    for s in started:
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait(10)

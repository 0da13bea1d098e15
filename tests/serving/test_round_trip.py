"""The CI round trip: serve → 2,000 users (an `abkit ingest` of other data running beside it) →
SIGTERM → `abkit ingest exposures DIR` → the exposures table holds exactly what the client saw,
in the arms `abkit assign` gives."""

from __future__ import annotations

import collections
import csv
import datetime as dt
import random
import subprocess
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from abkit.warehouse import connect
from tests.serving.conftest import SEGMENTS, abkit_cmd, env, make_warehouse, write_spec

N_USERS = 2000


def _user_ids() -> list[str]:
    ids = [f"u{i:05d}" for i in range(N_USERS - 200)]
    ids += [f"用户{i}" for i in range(100)] + [f"😀{i}" for i in range(100)]
    return ids


def _assign(spec: Path, users: Path, tmp: Path) -> dict[str, str | None]:
    out = tmp / f"arms-{spec.stem}.csv"
    subprocess.run(abkit_cmd("assign", str(spec), "--users", str(users), "--out", str(out)), env=env(), check=True,
                   capture_output=True)
    with open(out, encoding="utf-8") as fh:
        return {r["user_id"]: (r["arm"] or None) for r in csv.DictReader(fh)}


def _other_events(path: Path, n: int = 300_000) -> Path:
    rng = np.random.default_rng(5)
    pd.DataFrame({
        "event_id": [f"ev{i}" for i in range(n)],
        "ts": pd.Timestamp("2026-11-01") + pd.to_timedelta(rng.integers(0, 86400, n), unit="s"),
        "user_id": [f"other{i % 5000}" for i in range(n)], "item_id": [f"i{i % 60:02d}" for i in range(n)],
        "type": "click",
    }).to_parquet(path, index=False)
    return path


def _expected_text(arm: str, item_index: int, segment: str | None, item_id: str) -> str | None:
    """What the fixture's reasons say for this item (None: a fallback)."""
    if item_index % 3 == 2:
        return None
    if item_index % 2 == 1:
        return f"{arm}:None:{item_id}的理由"
    return f"{arm}:{segment}:{item_id}的理由" if segment in SEGMENTS else None


@pytest.mark.slow
def test_round_trip_exposures_equal_what_the_client_saw(tmp_path: Path, start_server: Any) -> None:
    db = tmp_path / "w.duckdb"
    item_ids = make_warehouse(db, experiments=(("exp_a", ("control", "treat")), ("exp_b", ("a", "b"))))
    today = dt.datetime.now(dt.UTC).date()
    specs = [
        write_spec(tmp_path / "a.yaml", coverage=0.7, holdout=0.05),
        write_spec(tmp_path / "b.yaml", key="exp_b", hash_version=1,
                   arms=[{"name": "a", "weight": 0.3}, {"name": "b", "weight": 0.7}],
                   namespace={"name": "ns", "range": [0.0, 0.5]}),
        write_spec(tmp_path / "old.yaml", key="exp_old", start=str(today - dt.timedelta(days=9)),
                   end=str(today - dt.timedelta(days=1))),
    ]
    users = _user_ids()
    users_csv = tmp_path / "users.csv"
    pd.DataFrame({"user_id": users}).to_csv(users_csv, index=False)
    log_dir = tmp_path / "log"
    server = start_server(specs, db, log_dir)

    beside = subprocess.Popen(abkit_cmd("ingest", "events", str(_other_events(tmp_path / "other.parquet")),
                                        "--db", str(db)), env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen: list[tuple[str, str, str, str, str | None, bool]] = []
    responses: dict[str, list[dict[str, Any]]] = {}
    sent: dict[str, dict[str, Any]] = {}
    errors: list[str] = []
    overlapped: list[bool] = []  # a response arrived while the ingest was still writing
    lock = threading.Lock()

    def client(chunk: list[str], seed: int) -> None:
        rng = random.Random(seed)
        conn = server.connection()
        for user in chunk:
            page = rng.sample(item_ids, 20) + (["no_such_item"] if rng.random() < 0.1 else [])
            attrs = {"platform": rng.choice(["ios", "android"]), "segment": rng.choice([*SEGMENTS, "未知人群", None])}
            status, body = server.request("POST", "/v1/reasons", {"user_id": user, "items": page, "attributes": attrs},
                                          conn=conn)
            with lock:
                if status != 200:
                    errors.append(f"{status} {body}")
                    continue
                responses[user] = body
                if beside.poll() is None:
                    overlapped.append(True)
                sent[user] = {"items": page, **attrs}
                for exp in body:
                    if exp["arm"] is not None:
                        seen.extend((exp["experiment"], user, it["item_id"], exp["arm"], it["reason_id"], it["fallback"])
                                    for it in exp["items"])
        conn.close()

    threads = [threading.Thread(target=client, args=(users[i::4], i)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    beside_out = beside.communicate(timeout=300)
    assert beside.returncode == 0, beside_out[1].decode()[-500:]
    server.stop()
    assert not errors, errors[:3]
    assert len(responses) == N_USERS
    assert overlapped, "the ingest beside the server finished before the first response"

    # every response: one object per running experiment, the arm abkit assign gives, the right text
    arms = {s.stem: _assign(s, users_csv, tmp_path) for s in specs[:2]}
    position = {item: k for k, item in enumerate(item_ids)}
    for user, body in responses.items():
        assert [e["experiment"] for e in body] == ["exp_a", "exp_b"]
        for exp, key in zip(body, ("a", "b"), strict=True):
            assert exp["arm"] == arms[key][user], (user, exp["experiment"])
            shown = exp["arm"] or ("control" if key == "a" else "a")  # not enrolled: the control arm's texts
            for it in exp["items"]:
                if it["item_id"] == "no_such_item":
                    assert it["fallback"] and it["text"] is None
                    continue
                want = _expected_text(shown, position[it["item_id"]], sent[user]["segment"], it["item_id"])
                assert it["fallback"] == (want is None)
                if want is not None:
                    assert it["text"] == want
                else:
                    assert it["text"] and it["reason_id"] is None  # the template's text
    enrolled = {k: sum(a is not None for a in v.values()) for k, v in arms.items()}
    assert 0 < enrolled["a"] < N_USERS and 0 < enrolled["b"] < N_USERS  # coverage/namespace exclude some

    assert not list(log_dir.glob(".*.tmp")), "SIGTERM must finish every part"
    run = subprocess.run(abkit_cmd("ingest", "exposures", str(log_dir), "--db", str(db)), env=env(),
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    con = connect(db, read_only=True)
    try:
        rows = con.execute("""SELECT experiment, user_id, item_id, arm, reason_id, fallback, event_id,
                                     extra['platform'], extra['segment'] FROM exposures""").fetchall()
        quarantined = con.execute("SELECT count(*) FROM quarantine WHERE table_name = 'exposures'").fetchone()[0]
        other = con.execute("SELECT count(*) FROM events").fetchone()[0]
    finally:
        con.close()
    assert quarantined == 0 and other == 300_000
    assert collections.Counter(r[:6] for r in rows) == collections.Counter(seen)
    assert len({r[6] for r in rows}) == len(rows)
    for r in rows[:200]:
        assert r[7] == sent[r[1]]["platform"] and r[8] == sent[r[1]]["segment"]

    again = subprocess.run(abkit_cmd("ingest", "exposures", str(log_dir), "--db", str(db)), env=env(),
                           capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    con = connect(db, read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM exposures").fetchone()[0] == len(rows)
    finally:
        con.close()

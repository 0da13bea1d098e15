"""Shipping an arm: covered users get it (texts and exposure rows), the others the default
experience; the ship is one transaction; `abkit rollout` ramps a shipped phase on time and users;
`abkit serve` picks a ship up on reload; `analyze` ends its window at the ship."""

from __future__ import annotations

import datetime as dt
import json
import signal
from pathlib import Path
from typing import Any

import pytest

from abkit.spec import Spec, load_spec, parse_spec
from abkit.warehouse import connect, current_coverage, set_experiment_state
from experiments.assign import assign_arms
from serving.exposure_log import ExposureLog
from serving.rollout import rollout_step
from serving.service import ReasonService
from serving.ship import ShipError, ship_arm
from serving.snapshot import load_snapshot
from tests.serving.conftest import make_warehouse, write_spec

ARMS = [{"name": "control", "weight": 0.4}, {"name": "treat", "weight": 0.3}, {"name": "other", "weight": 0.3}]
PLAN = {"steps": [0.2, 0.5, 1.0], "min_days": 1, "min_users_per_arm": 50}
USERS = [f"user{k}" for k in range(3000)] + [f"用户{k}" for k in range(300)]


def _spec(**extra: Any) -> Spec:
    return parse_spec({"key": "exp_a", "arms": ARMS, "start": "2026-11-01", "end": "2026-11-08",
                       "primary_metric": "ctr", **extra})


def _warehouse(tmp_path: Path, state: str = "running") -> tuple[Path, list[str]]:
    db = tmp_path / "w.duckdb"
    items = make_warehouse(db, experiments=(("exp_a", ("control", "treat", "other")),))
    con = connect(db)
    set_experiment_state(con, "exp_a", state, "launched", actor="ana")
    con.close()
    return db, items


def _ship(db: Path, spec: Spec, arm: str = "treat", at: dt.datetime | None = None) -> None:
    con = connect(db)
    try:
        ship_arm(con, spec, arm, actor="alice", why="won on CTR", at=at)
    finally:
        con.close()


def _logged(log_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(ln) for p in sorted(log_dir.glob("*.jsonl")) for ln in p.read_text().splitlines()]


@pytest.mark.parametrize(("extra", "coverage"), [({}, 1.0), ({"rollout": PLAN}, 0.2), ({"coverage": 0.6}, 1.0)])
def test_covered_users_get_the_shipped_arm_and_the_others_control(tmp_path: Path, extra: dict[str, Any],
                                                                  coverage: float) -> None:
    spec = _spec(**extra)
    db, items = _warehouse(tmp_path)
    _ship(db, spec)
    snap = load_snapshot([spec], db)
    [exp] = snap.served
    assert (exp.shipped_arm, exp.spec.coverage) == ("treat", coverage)
    log = ExposureLog(tmp_path / "log", flush_ms=10)
    service = ReasonService(snap, log=log)
    after_the_window = dt.datetime(2027, 3, 1, tzinfo=dt.UTC).timestamp()  # a ship lasts past the end
    page = items[:4]
    answered = {u: service.reasons(u, page, {"segment": "学生党"}, now=after_the_window)[0] for u in USERS}
    log.close()
    # the reference: `abkit assign` at the ship's coverage decides who is covered (holdout etc. included)
    covered = {u for u, a in zip(USERS, assign_arms(USERS, spec.model_copy(update={"coverage": coverage})),
                                 strict=True) if a is not None}
    assert 0 < len(covered) <= len(USERS)
    assert abs(len(covered) / len(USERS) - coverage) < 0.05
    for u, res in answered.items():
        arm = "treat" if u in covered else "control"
        assert res.arm == ("treat" if u in covered else None)
        assert [i.text for i in res.items[:2]] == [f"{arm}:学生党:{page[0]}的理由", f"{arm}:None:{page[1]}的理由"]
    rows = _logged(tmp_path / "log")
    assert {r["arm"] for r in rows} == {"treat"} and {r["user_id"] for r in rows} == covered
    assert len(rows) == len(covered) * len(page)


def test_the_ship_is_one_audited_transaction_and_refuses_what_is_no_ship(tmp_path: Path) -> None:
    spec = _spec(rollout=PLAN)
    db, _ = _warehouse(tmp_path, state="draft")
    for arm, words in (("treat", "cannot ship an experiment that is draft"),):
        with pytest.raises(ShipError, match=words):
            _ship(db, spec, arm)
    con = connect(db)
    set_experiment_state(con, "exp_a", "stopped", "enough", actor="ana")
    for arm, why, words in (("control", "x", "choose the treatment arm"), ("ghost", "x", "choose the treatment arm"),
                            ("treat", "  ", "say why")):
        with pytest.raises(ShipError, match=words):
            ship_arm(con, spec, arm, actor="alice", why=why)
    assert current_coverage(con, "exp_a") is None  # nothing half-written
    ship_arm(con, spec, "other", actor="alice", why="cheaper and as good")
    step = current_coverage(con, "exp_a")
    assert step is not None
    assert (step.phase, step.coverage, step.hash_seed, step.shipped_arm, step.actor) == (1, 0.2, "exp_a", "other", "alice")
    state = con.execute("SELECT state, actor, note FROM lifecycle ORDER BY changed_at DESC, rowid DESC LIMIT 1").fetchone()
    assert state == ("shipped", "alice", "ship arm other: cheaper and as good")
    with pytest.raises(ShipError, match="cannot ship an experiment that is shipped"):
        ship_arm(con, spec, "treat", actor="alice", why="again")
    con.close()


def _expose(db: Path, users: range, arm: str, at: dt.datetime) -> None:
    con = connect(db)
    con.executemany("INSERT INTO exposures (event_id, ts, experiment, user_id, item_id, arm, ingested_at) "
                    "VALUES (?, ?, 'exp_a', ?, 'i1', ?, now())",
                    [(f"e{arm}{k}", at, f"u{k}", arm) for k in users])
    con.close()


def _rollout(db: Path, spec: Spec, now: dt.datetime) -> str:
    con = connect(db)
    try:
        return rollout_step(spec, con, now=now, actor="cron").line()
    finally:
        con.close()


def test_rollout_ramps_a_shipped_arm_on_time_and_users(tmp_path: Path) -> None:
    spec = _spec(rollout=PLAN)
    db, _ = _warehouse(tmp_path)
    t0 = dt.datetime(2026, 11, 9)  # after the window: a ship keeps ramping
    # a previous experiment phase at 100 %: the ship is a new phase
    con = connect(db)
    con.execute("INSERT INTO coverage_steps VALUES ('exp_a', 1, 1.0, 'exp_a', ?, 'cron', 'done', NULL)",
                [t0 - dt.timedelta(days=9)])
    con.close()
    _ship(db, spec, at=t0)
    _expose(db, range(40), "treat", t0 + dt.timedelta(hours=1))
    _expose(db, range(40, 100), "control", t0 + dt.timedelta(hours=1))  # not the shipped arm: not counted
    out = _rollout(db, spec, t0 + dt.timedelta(hours=12))
    assert "hold" in out and "0.50 d of 1 d" in out and "40 of 50 users saw arm treat" in out
    assert "hold" in _rollout(db, spec, t0 + dt.timedelta(days=2))  # a day, but still 40 users
    _expose(db, range(100, 120), "treat", t0 + dt.timedelta(days=1))
    out = _rollout(db, spec, t0 + dt.timedelta(days=2))
    assert "advance" in out and "20% → 50%" in out and "60 users saw it" in out
    step = current_coverage(connect(db, read_only=True), "exp_a")
    assert step is not None and (step.phase, step.coverage, step.shipped_arm) == (2, 0.5, "treat")
    # users are counted per step: those of the 20 % step do not count again
    assert "0 of 50 users" in _rollout(db, spec, t0 + dt.timedelta(days=4))
    _expose(db, range(200, 260), "treat", t0 + dt.timedelta(days=3))
    assert "50% → 100%" in _rollout(db, spec, t0 + dt.timedelta(days=4))
    assert "ship of arm treat complete" in _rollout(db, spec, t0 + dt.timedelta(days=9))
    con = connect(db, read_only=True)
    rows = con.execute("SELECT phase, coverage, shipped_arm FROM coverage_steps ORDER BY step_at, rowid").fetchall()
    states = con.execute("SELECT state, actor FROM lifecycle ORDER BY changed_at, rowid").fetchall()
    con.close()
    assert rows == [(1, 1.0, None), (2, 0.2, "treat"), (2, 0.5, "treat"), (2, 1.0, "treat")]
    assert states[-3:] == [("shipped", "alice"), ("shipped", "cron"), ("shipped", "cron")]
    assert load_snapshot([spec], db).served[0].spec.coverage == 1.0


def test_a_rolled_back_ship_is_not_ramped_nor_served(tmp_path: Path) -> None:
    spec = _spec(rollout=PLAN)
    db, _ = _warehouse(tmp_path)
    t0 = dt.datetime(2026, 11, 5)
    _ship(db, spec, at=t0)
    con = connect(db)
    set_experiment_state(con, "exp_a", "rolled_back", "complaints", actor="alice")
    con.close()
    _expose(db, range(100), "treat", t0 + dt.timedelta(hours=1))
    assert "the ship of arm treat is rolled_back" in _rollout(db, spec, t0 + dt.timedelta(days=3))
    assert current_coverage(connect(db, read_only=True), "exp_a").coverage == 0.2  # type: ignore[union-attr]
    assert load_snapshot([spec], db).served == []


def test_analysis_window_ends_at_the_ship(tmp_path: Path) -> None:
    from experiments.analysis.analyze import analyze

    spec = _spec()
    db, _ = _warehouse(tmp_path)
    ship_at = dt.datetime(2026, 11, 4, 12)
    _expose(db, range(0, 300), "control", ship_at - dt.timedelta(days=1))
    _expose(db, range(300, 600), "treat", ship_at - dt.timedelta(days=1))
    _expose(db, range(600, 900), "other", ship_at - dt.timedelta(days=1))
    _expose(db, range(1000, 1500), "treat", ship_at + dt.timedelta(hours=1))  # after the ship
    con = connect(db)
    before = analyze(spec, con).to_json()
    assert before["users"]["treat"] == 800
    ship_arm(con, spec, "treat", actor="alice", why="won", at=ship_at)
    after = analyze(spec, con).to_json()
    con.close()
    assert after["users"] == {"control": 300, "treat": 300, "other": 300}
    assert str(after["window_utc"][1]).startswith("2026-11-04") and "ends at the ship" in " ".join(after["notes"])


def test_serve_picks_up_a_ship_on_reload(tmp_path: Path, start_server: Any) -> None:
    db = tmp_path / "w.duckdb"
    items = make_warehouse(db)
    spec_path = write_spec(tmp_path / "exp_a.yaml", rollout={"steps": [0.5, 1.0]})
    con = connect(db)
    set_experiment_state(con, "exp_a", "running", "launched")
    con.close()
    server = start_server([spec_path], db, tmp_path / "log", flush_ms=20)
    users = [f"v{k}" for k in range(200)]

    def arms() -> list[str | None]:
        out = []
        for u in users:
            status, body = server.request("POST", "/v1/reasons", {"user_id": u, "items": items[:2]})
            assert status == 200
            out.append(body[0]["arm"])
        return out

    before = arms()
    assert set(before) == {None, "control", "treat"}
    _ship(db, load_spec(spec_path))  # the server holds no connection: the write goes through
    assert server.request("POST", "/admin/reload")[0] == 200
    shipped = arms()
    covered = assign_arms(users, load_spec(spec_path).model_copy(update={"coverage": 0.5})).tolist()
    assert shipped == ["treat" if a is not None else None for a in covered]
    status, health = server.request("GET", "/healthz")
    assert health["experiments"]["exp_a"] == {"coverage": 0.5, "state": "shipped", "shipped_arm": "treat"}
    assert server.stop() in (0, -signal.SIGTERM)
    logged = [r["arm"] for r in _logged(tmp_path / "log")]  # two items per enrolled answer
    assert logged.count("control") == 2 * before.count("control")
    assert logged.count("treat") == 2 * (before.count("treat") + shipped.count("treat"))

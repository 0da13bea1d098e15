"""The warehouse: schema, read-only opens, lock conflicts and rollbacks become one-line errors."""

from __future__ import annotations

import datetime as dt
import gzip
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from abkit import warehouse
from abkit.warehouse import (
    MIGRATIONS,
    SCHEMA_VERSION,
    TABLES,
    WarehouseError,
    check_identifier,
    connect,
    current_coverage,
    ensure_schema,
    experiment_states,
    record_coverage,
    set_experiment_state,
    transaction,
)

FIXTURE_V1 = Path(__file__).parent / "fixtures" / "warehouse_v1.duckdb.gz"
# version-1 table -> its name now
V1_TABLES = {t: t for t in ("exposures", "events", "reasons", "items", "users", "quarantine", "results")}
V1_TABLES["experiment_state"] = "lifecycle"


def test_creates_every_table_once(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    connect(db).close()
    con = connect(db)  # second open: idempotent
    names = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert set(TABLES) <= names
    assert con.execute("SELECT count(*), max(version) FROM schema_version").fetchone() == (1, SCHEMA_VERSION)
    types = dict(con.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'exposures'").fetchall())
    assert types["user_id"] == "VARCHAR" and types["ts"] == "TIMESTAMP"
    con.close()


def test_read_only_missing_file(tmp_path: Path) -> None:
    with pytest.raises(WarehouseError, match="no such database"):
        connect(tmp_path / "absent.duckdb", read_only=True)


def test_not_an_abkit_database(tmp_path: Path) -> None:
    db = tmp_path / "other.duckdb"
    duckdb.connect(str(db)).execute("CREATE TABLE t (x INT)").close()
    with pytest.raises(WarehouseError, match="not an abkit database"):
        connect(db, read_only=True)


@pytest.mark.parametrize("read_only", [False, True])
def test_newer_schema_refused(tmp_path: Path, read_only: bool) -> None:
    db = tmp_path / "w.duckdb"
    con = connect(db)
    con.execute("INSERT INTO schema_version VALUES (?, now())", [SCHEMA_VERSION + 5])
    con.close()
    with pytest.raises(WarehouseError, match="newer than this abkit"):
        connect(db, read_only=read_only)


def test_lock_conflict_is_one_line(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    connect(db).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb,time; c=duckdb.connect({str(db)!r}); print('ok', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ok"
        with pytest.raises(WarehouseError) as info:
            connect(db, lock_wait=0.3)
        assert "in use by another process" in str(info.value) and "\n" not in str(info.value)
    finally:
        holder.kill()
        holder.wait()


def test_connect_waits_for_a_lock_released_in_time(tmp_path: Path) -> None:
    """A short hold by another process (an ingest, the web app's page) is waited out, not an error."""
    db = tmp_path / "w.duckdb"
    connect(db).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb,time; c=duckdb.connect({str(db)!r}); print('ok', flush=True); "
                               "time.sleep(1.0); c.close()"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ok"
        t0 = time.monotonic()
        con = connect(db, read_only=True, lock_wait=20)
        assert time.monotonic() - t0 > 0.5  # it only got in after the holder let go
        con.close()
    finally:
        holder.kill()
        holder.wait()


def test_transaction_rolls_back(tmp_path: Path) -> None:
    con = connect(tmp_path / "w.duckdb")
    with pytest.raises(RuntimeError):
        with transaction(con):
            con.execute("INSERT INTO users (user_id, segment, extra, source_file, ingested_at) VALUES ('u1', 'seg', NULL, 'f', now())")
            raise RuntimeError("boom")
    assert con.execute("SELECT count(*) FROM users").fetchone() == (0,)


def test_identifiers_validated() -> None:
    assert check_identifier("platform") == "platform"
    with pytest.raises(WarehouseError):
        check_identifier("x; DROP TABLE users")


def test_experiment_lifecycle(tmp_path: Path) -> None:
    con = connect(tmp_path / "w.duckdb")
    set_experiment_state(con, "exp", "draft")
    set_experiment_state(con, "exp", "running")
    assert [r[:2] for r in experiment_states(con)] == [("exp", "running")]
    with pytest.raises(WarehouseError):
        set_experiment_state(con, "exp", "exploded")


# --- migrations ------------------------------------------------------------------------------

def _v1_copy(tmp_path: Path) -> Path:
    """A fresh copy of the warehouse commit 5e8505e wrote (schema version 1)."""
    db = tmp_path / "v1.duckdb"
    with gzip.open(FIXTURE_V1, "rb") as src, db.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    return db


def _rows(con: duckdb.DuckDBPyConnection, table: str, columns: list[str]) -> list[tuple]:
    return sorted(map(repr, con.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall()))


def _catalog(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    rows = con.execute(
        "SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns "
        "ORDER BY table_name, ordinal_position").fetchall()
    out: dict[str, list[tuple]] = {}
    for table, *col in rows:
        out.setdefault(table, []).append(tuple(col))
    return out


def _constraints(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return sorted(con.execute(
        "SELECT table_name, constraint_type, constraint_text FROM duckdb_constraints()").fetchall())


def test_migrations_are_numbered_from_2_without_gaps() -> None:
    assert sorted(MIGRATIONS) == list(range(2, SCHEMA_VERSION + 1))


def test_v1_fixture_migrates_keeping_every_row(tmp_path: Path) -> None:
    db = _v1_copy(tmp_path)
    old = duckdb.connect(str(db), read_only=True)
    assert old.execute("SELECT max(version) FROM schema_version").fetchone() == (1,)
    before = {}
    for v1, now in V1_TABLES.items():
        cols = [r[0] for r in old.execute(f"DESCRIBE {v1}").fetchall()]
        before[now] = (cols, _rows(old, v1, cols))
    old.close()
    assert all(rows for _, rows in before.values())  # the fixture has rows in every table

    con = connect(db)
    versions = con.execute("SELECT version FROM schema_version ORDER BY applied_at, rowid").fetchall()
    assert [v for (v,) in versions] == list(range(1, SCHEMA_VERSION + 1))
    for table, (cols, rows) in before.items():
        assert _rows(con, table, cols) == rows, table
    assert con.execute("SELECT count(*) FROM lifecycle WHERE actor IS NOT NULL").fetchone() == (0,)
    assert [r[:2] for r in experiment_states(con)] == [("reasons_v1", "running")]
    set_experiment_state(con, "reasons_v1", "stopped", actor="ana")
    assert con.execute("SELECT actor FROM lifecycle WHERE state = 'stopped'").fetchone() == ("ana",)
    record_coverage(con, "reasons_v1", 0.25, phase=2, hash_seed="s", actor="ana", reason="ship", shipped_arm="b")
    step = current_coverage(con, "reasons_v1")
    assert step is not None and (step.coverage, step.shipped_arm) == (0.25, "b")  # v6: ships name their arm
    migrated, migrated_constraints = _catalog(con), _constraints(con)
    con.close()

    fresh = connect(tmp_path / "fresh.duckdb")
    assert migrated == _catalog(fresh)  # same tables, columns, order, types and NOT NULLs as a new file
    assert migrated_constraints == _constraints(fresh)
    fresh.close()
    ro = connect(db, read_only=True)  # migrated: read-only opens work again
    assert ro.execute("SELECT count(*) FROM events").fetchone() == (4,)
    ro.close()


def test_read_only_open_of_an_old_file_is_a_one_line_error(tmp_path: Path) -> None:
    db = _v1_copy(tmp_path)
    with pytest.raises(WarehouseError) as info:
        connect(db, read_only=True)
    msg = str(info.value)
    assert "\n" not in msg and "version 1 is older" in msg and "read-write" in msg
    check = duckdb.connect(str(db), read_only=True)  # untouched, and not left locked
    assert check.execute("SELECT max(version) FROM schema_version").fetchone() == (1,)
    check.close()


def test_migrations_run_in_order_from_any_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = _v1_copy(tmp_path)
    monkeypatch.setattr(warehouse, "SCHEMA_VERSION", 3)
    con = connect(db)
    assert warehouse.schema_version(con) == 3
    assert warehouse.has_table(con, "coverage_steps") and not warehouse.has_table(con, "analysis_state")
    monkeypatch.undo()
    ensure_schema(con)  # 3 -> latest applies only the later steps
    assert [v for (v,) in con.execute("SELECT version FROM schema_version ORDER BY rowid").fetchall()] == \
        list(range(1, SCHEMA_VERSION + 1))
    assert warehouse.has_table(con, "text_labels")


def test_migrations_are_idempotent(tmp_path: Path) -> None:
    con = connect(_v1_copy(tmp_path))
    catalog = _catalog(con)
    n_versions = con.execute("SELECT count(*) FROM schema_version").fetchone()
    ensure_schema(con)  # nothing left to do
    for version in sorted(MIGRATIONS):  # each step re-run on its own result changes nothing
        for statement in MIGRATIONS[version]:
            con.execute(statement)
    assert _catalog(con) == catalog
    assert con.execute("SELECT count(*) FROM schema_version").fetchone() == n_versions
    assert con.execute("SELECT count(*) FROM lifecycle").fetchone() == (2,)


def test_a_failing_migration_leaves_the_previous_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = _v1_copy(tmp_path)
    broken = dict(MIGRATIONS)
    broken[SCHEMA_VERSION] = (*MIGRATIONS[SCHEMA_VERSION], "ALTER TABLE no_such_table ADD COLUMN x INTEGER")
    monkeypatch.setattr(warehouse, "MIGRATIONS", broken)
    with pytest.raises(duckdb.CatalogException):
        connect(db)
    monkeypatch.undo()
    con = duckdb.connect(str(db))
    assert warehouse.schema_version(con) == SCHEMA_VERSION - 1
    user_key = "SELECT count(*) FROM information_schema.columns WHERE column_name = 'user_key'"
    assert con.execute(user_key).fetchone() == (0,)  # the failed step's other statements rolled back
    assert not warehouse.has_table(con, "user_keys")
    con.close()
    con = connect(db)  # fixed code finishes the job
    assert warehouse.schema_version(con) == SCHEMA_VERSION
    assert con.execute("SELECT count(*) FROM events").fetchone() == (4,)


def test_schema_created_inside_a_callers_transaction_rolls_back_with_it() -> None:
    con = duckdb.connect()
    con.execute("BEGIN TRANSACTION")
    ensure_schema(con)
    con.execute("ROLLBACK")
    assert not warehouse.has_table(con, "exposures")


# --- rollout coverage ----------------------------------------------------------------------------

def test_coverage_history_latest_step_wins(tmp_path: Path) -> None:
    con = connect(tmp_path / "w.duckdb")
    assert current_coverage(con, "exp") is None
    record_coverage(con, "exp", 0.05, phase=1, hash_seed="exp", actor="ana", reason="canary")
    record_coverage(con, "other", 1.0, phase=3, hash_seed=None, actor=None, reason=None)
    with transaction(con):  # same now(): insertion order decides
        record_coverage(con, "exp", 0.2, phase=2, hash_seed="exp", actor="ana", reason="ramp")
        record_coverage(con, "exp", 0.5, phase=3, hash_seed="exp", actor="bo", reason="ramp")
    assert current_coverage(con, "exp").coverage == 0.5
    assert current_coverage(con, "other").coverage == 1.0
    assert con.execute("SELECT count(*) FROM coverage_steps WHERE experiment = 'exp'").fetchone() == (3,)
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(WarehouseError, match="coverage must be in"):
            record_coverage(con, "exp", bad, phase=4, hash_seed=None, actor=None, reason=None)
    assert current_coverage(con, "exp").coverage == 0.5
    record_coverage(con, "exp", 0.0, phase=3, hash_seed="exp", actor="cron", reason="rolled back")
    assert current_coverage(con, "exp").coverage == 0.0
    assert current_coverage(con, "exp").shipped_arm is None
    assert warehouse.shipped_at(con, "exp") is None
    first = dt.datetime(2026, 11, 9)
    for at in (first, first + dt.timedelta(days=1)):
        record_coverage(con, "exp", 0.5, phase=4, hash_seed="exp", actor="ana", reason="ship", shipped_arm="b", at=at)
    assert warehouse.shipped_at(con, "exp") == first and warehouse.shipped_at(con, "other") is None


def test_migration_7_keys_every_stored_user(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    con = connect(_v1_copy(tmp_path))
    # the one-time migration is announced (it takes minutes on a large file), once, with both versions
    notices = [r.getMessage() for r in caplog.records if "migrating" in r.getMessage()]
    assert notices == [f"abkit: migrating the warehouse from schema version 1 to {warehouse.SCHEMA_VERSION} (one-time)"]
    keys = dict(con.execute("SELECT user_id, user_key FROM user_keys").fetchall())
    assert len(set(keys.values())) == len(keys) > 0  # one distinct key per id
    for table in ("exposures", "events", "users"):
        rows = con.execute(f"SELECT user_id, user_key FROM {table}").fetchall()
        assert rows and all(key is not None and key == keys[user] for user, key in rows), table
    assert warehouse.user_keys_complete(con)
    con.close()
    caplog.clear()
    connect(tmp_path / "v1.duckdb").close()  # at the current version: nothing to announce
    assert not [r for r in caplog.records if "migrating" in r.getMessage()]


def test_one_row_returns_the_row() -> None:
    con = duckdb.connect()
    assert warehouse.one_row(con.execute("SELECT count(*), 7 FROM range(3)")) == (3, 7)


def test_one_row_raises_when_the_query_returns_none() -> None:
    """A query that returns no row is a clear error, not ``None[0]`` later."""
    con = duckdb.connect()
    with pytest.raises(RuntimeError, match="returned none"):
        warehouse.one_row(con.execute("SELECT 1 WHERE false"))

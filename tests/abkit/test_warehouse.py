"""The warehouse: schema, read-only opens, lock conflicts and rollbacks become one-line errors."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from abkit.warehouse import (
    SCHEMA_VERSION,
    TABLES,
    WarehouseError,
    check_identifier,
    connect,
    experiment_states,
    set_experiment_state,
    transaction,
)


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


def test_newer_schema_refused(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    con = connect(db)
    con.execute("INSERT INTO schema_version VALUES (?, now())", [SCHEMA_VERSION + 5])
    con.close()
    with pytest.raises(WarehouseError, match="newer than this abkit"):
        connect(db)


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
            con.execute("INSERT INTO users VALUES ('u1', 'seg', NULL, 'f', now())")
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

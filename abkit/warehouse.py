"""The DuckDB warehouse: one module owns the database file, its tables and migrations.

Table and column names live here and only here; every value goes in as a bound parameter.
DuckDB allows one writer process at a time: open read-only where you only read.

    with open_warehouse("abkit.duckdb") as con:           # read-write, schema ensured
        con.execute("SELECT count(*) FROM exposures").fetchone()
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb

from abkit.errors import AbkitError

DEFAULT_DB = "abkit.duckdb"
SCHEMA_VERSION = 1

# Tables of docs/interface.md, Data plus abkit's own. `extra` keeps any columns beyond the schema.
TABLES: dict[str, str] = {
    "exposures": """
        event_id     VARCHAR NOT NULL,
        ts           TIMESTAMP NOT NULL,
        experiment   VARCHAR NOT NULL,
        user_id      VARCHAR NOT NULL,
        item_id      VARCHAR NOT NULL,
        arm          VARCHAR NOT NULL,
        reason_id    VARCHAR,
        fallback     BOOLEAN,
        extra        MAP(VARCHAR, VARCHAR),
        source_file  VARCHAR,
        ingested_at  TIMESTAMP NOT NULL""",
    "events": """
        event_id     VARCHAR NOT NULL,
        ts           TIMESTAMP NOT NULL,
        user_id      VARCHAR NOT NULL,
        item_id      VARCHAR NOT NULL,
        type         VARCHAR NOT NULL,
        revenue      DOUBLE,
        order_id     VARCHAR,
        extra        MAP(VARCHAR, VARCHAR),
        source_file  VARCHAR,
        ingested_at  TIMESTAMP NOT NULL""",
    "reasons": """
        reason_id     VARCHAR NOT NULL,
        experiment    VARCHAR,
        arm           VARCHAR,
        item_id       VARCHAR NOT NULL,
        segment       VARCHAR,
        text          VARCHAR NOT NULL,
        generator     VARCHAR,
        model_version VARCHAR,
        created_at    TIMESTAMP,
        extra         MAP(VARCHAR, VARCHAR),
        source_file   VARCHAR,
        ingested_at   TIMESTAMP NOT NULL""",
    "items": """
        item_id      VARCHAR NOT NULL,
        category     VARCHAR,
        brand        VARCHAR,
        title        VARCHAR,
        price        DOUBLE,
        discount     DOUBLE,
        attributes   JSON,
        extra        MAP(VARCHAR, VARCHAR),
        source_file  VARCHAR,
        ingested_at  TIMESTAMP NOT NULL""",
    "users": """
        user_id      VARCHAR NOT NULL,
        segment      VARCHAR,
        extra        MAP(VARCHAR, VARCHAR),
        source_file  VARCHAR,
        ingested_at  TIMESTAMP NOT NULL""",
    "quarantine": """
        table_name   VARCHAR NOT NULL,
        file         VARCHAR NOT NULL,
        line         BIGINT,
        raw          VARCHAR,
        reason       VARCHAR NOT NULL,
        ingested_at  TIMESTAMP NOT NULL""",
    "results": """
        experiment   VARCHAR NOT NULL,
        computed_at  TIMESTAMP NOT NULL,
        as_of        TIMESTAMP,
        result       JSON NOT NULL""",
    "experiment_state": """
        experiment   VARCHAR NOT NULL,
        state        VARCHAR NOT NULL,
        changed_at   TIMESTAMP NOT NULL,
        note         VARCHAR""",
    "schema_version": """
        version      INTEGER NOT NULL,
        applied_at   TIMESTAMP NOT NULL""",
}

LOG_TABLES = ("exposures", "events", "reasons", "items", "users")
EXPERIMENT_STATES = ("draft", "running", "stopped", "shipped", "rolled_back")

# Migrations: version -> statements that bring version-1 to version. Version 1 is the base.
MIGRATIONS: dict[int, list[str]] = {}

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class WarehouseError(AbkitError, RuntimeError):
    """A one-line, user-facing problem with the database."""


def check_identifier(name: str) -> str:
    """Identifiers are never built from user strings; this guards the few that are chosen from lists."""
    if not _IDENT.match(name):
        raise WarehouseError(f"invalid identifier {name!r}")
    return name


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create missing tables and apply migrations up to SCHEMA_VERSION."""
    for name, columns in TABLES.items():
        con.execute(f"CREATE TABLE IF NOT EXISTS {name} ({columns})")
    row = con.execute("SELECT max(version) FROM schema_version").fetchone()
    current = row[0] if row and row[0] is not None else 0
    if current == 0:
        con.execute("INSERT INTO schema_version VALUES (?, now())", [SCHEMA_VERSION])
        return
    if current > SCHEMA_VERSION:
        raise WarehouseError(
            f"database schema version {current} is newer than this abkit ({SCHEMA_VERSION}); upgrade abkit"
        )
    for version in range(current + 1, SCHEMA_VERSION + 1):
        for statement in MIGRATIONS.get(version, []):
            con.execute(statement)
        con.execute("INSERT INTO schema_version VALUES (?, now())", [version])


def _configure(con: duckdb.DuckDBPyConnection, memory_limit: str | None, temp_dir: str | None) -> None:
    con.execute("SET TimeZone = 'UTC'")
    if memory_limit:
        con.execute("SET memory_limit = ?", [memory_limit])
    if temp_dir:
        con.execute("SET temp_directory = ?", [temp_dir])
    con.execute("SET preserve_insertion_order = false")


def connect(
    path: str | os.PathLike[str] = DEFAULT_DB,
    *,
    read_only: bool = False,
    memory_limit: str | None = None,
    temp_dir: str | None = None,
    lock_wait: float = 5.0,
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse. Read-write opens create the file and ensure the schema.

    While another process holds the file's lock, retry for up to ``lock_wait`` seconds; then, and
    for unreadable files, a one-line WarehouseError.
    """
    path = Path(path)
    if read_only and not path.exists():
        raise WarehouseError(f"{path}: no such database (ingest some logs first)")
    deadline = time.monotonic() + lock_wait
    delay = 0.05
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.IOException as exc:
            msg = str(exc)
            if "lock" not in msg.lower():
                raise WarehouseError(f"{path}: cannot open database ({msg.splitlines()[0]})") from None
            if time.monotonic() + delay > deadline:
                raise WarehouseError(
                    f"{path}: the database is in use by another process (DuckDB allows one writer)") from None
        except duckdb.Error as exc:
            raise WarehouseError(f"{path}: cannot open database ({str(exc).splitlines()[0]})") from None
        time.sleep(delay)  # another process (an ingest, the web app's page) holds the file briefly
        delay = min(delay * 2, 0.5)
    _configure(con, memory_limit, temp_dir)
    if not read_only:
        ensure_schema(con)
    else:
        missing = [t for t in ("exposures", "events") if not has_table(con, t)]
        if missing:
            con.close()
            raise WarehouseError(f"{path}: not an abkit database (no {missing[0]} table)")
    return con


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    row = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
    ).fetchone()
    return bool(row and row[0])


@contextlib.contextmanager
def open_warehouse(path: str | os.PathLike[str] = DEFAULT_DB, **kwargs) -> Iterator[duckdb.DuckDBPyConnection]:
    con = connect(path, **kwargs)
    try:
        yield con
    finally:
        con.close()


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All-or-nothing: a failure rolls back every statement of the block."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    else:
        con.execute("COMMIT")


def set_experiment_state(con: duckdb.DuckDBPyConnection, experiment: str, state: str, note: str | None = None) -> None:
    if state not in EXPERIMENT_STATES:
        raise WarehouseError(f"unknown experiment state {state!r} (one of {', '.join(EXPERIMENT_STATES)})")
    con.execute("INSERT INTO experiment_state (experiment, state, changed_at, note) VALUES (?, ?, now(), ?)",
                [experiment, state, note])


def experiment_states(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    """Latest state per experiment: (experiment, state, changed_at)."""
    return con.execute(
        """
        SELECT experiment, state, strftime(changed_at, '%Y-%m-%d %H:%M') FROM (
            SELECT *, row_number() OVER (PARTITION BY experiment ORDER BY changed_at DESC, rowid DESC) AS rn
            FROM experiment_state) WHERE rn = 1 ORDER BY experiment
        """
    ).fetchall()

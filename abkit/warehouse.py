"""The DuckDB warehouse: one module owns the database file, its DDL and its migrations.

The tables and columns are defined in abkit/schema.py; this module creates them, migrates older
files (:data:`MIGRATIONS`) and binds every value as a parameter. DuckDB allows one writer process
at a time: open read-only where you only read.

    with open_warehouse("abkit.duckdb") as con:           # read-write, schema ensured
        con.execute("SELECT count(*) FROM exposures").fetchone()

Versions: a read-write open migrates an older file in place, one numbered migration at a time,
each in its own transaction with its ``schema_version`` row, keeping every row. A read-only open
cannot migrate: it refuses a file of another version with a one-line error that says how to
migrate it (open it read-write once, e.g. ``abkit ingest`` or ``abkit analyze``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import logging
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from abkit.errors import AbkitError
from abkit.schema import EXPERIMENT_STATES, KEYED_TABLES, LOG_TABLES, TABLES

DEFAULT_DB = "abkit.duckdb"

__all__ = [
    "DEFAULT_DB", "EXPERIMENT_STATES", "LOG_TABLES", "MIGRATIONS", "SCHEMA_VERSION", "TABLES", "WarehouseError",
    "add_user_keys", "assign_user_keys", "atomic", "check_identifier", "connect", "current_coverage", "ensure_schema",
    "experiment_state", "experiment_states", "has_table", "one_row", "open_warehouse", "record_coverage", "schema_version",
    "set_experiment_state", "shipped_at", "transaction", "user_keys_complete",
]

_log = logging.getLogger("abkit.warehouse")

# Integer user keys (table user_keys): every user_id of the keyed log tables (abkit/schema.py,
# KEYED_TABLES) gets the next free key the first time it is stored. Ingest adds the keys of a
# file's new ids before appending it, and the INSERT carries each row's key (add_user_keys);
# assign_user_keys keys rows written without one after the fact (migration 7, tables written by
# other means) and touches only rows whose user_key is still NULL, so it is idempotent.
_NEW_USER_KEYS = """
INSERT INTO user_keys (user_id, user_key)
SELECT n.user_id, CAST(b.base + row_number() OVER (ORDER BY n.user_id) AS INTEGER)
FROM ({ids}) n
CROSS JOIN (SELECT COALESCE(max(user_key), 0) AS base FROM user_keys) b
WHERE n.user_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM user_keys k WHERE k.user_id = n.user_id)"""
_FILL_USER_KEYS = """
UPDATE {table} SET user_key = k.user_key
FROM user_keys k
WHERE {table}.user_key IS NULL AND k.user_id = {table}.user_id"""



def one_row(result: duckdb.DuckDBPyConnection) -> tuple[Any, ...]:
    """The row of an executed query that always returns one (an aggregate without GROUP BY, a setting).
    DuckDB types ``fetchone()`` as ``tuple | None``; a missing row here means a broken query, and this
    says so instead of failing later on ``None[0]``."""
    row = result.fetchone()
    if row is None:
        raise RuntimeError("a query that always returns one row returned none")
    return row

def _user_key_statements(table: str) -> tuple[str, ...]:
    return (f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS user_key INTEGER",
            _NEW_USER_KEYS.format(ids=f"SELECT DISTINCT user_id FROM {table} WHERE user_key IS NULL"),
            _FILL_USER_KEYS.format(table=table))



# Migrations: version -> the statements that bring a version-1 database to version. Version 1 is
# the schema of the first release. History is frozen: never edit a migration, add the next one
# (and change abkit/schema.py to match; a test compares a migrated file with a fresh one).
# Statements are idempotent (IF [NOT] EXISTS) so a half-applied step can be re-run.
MIGRATIONS: dict[int, tuple[str, ...]] = {
    2: (  # the lifecycle log records who changed the state
        "ALTER TABLE IF EXISTS experiment_state RENAME TO lifecycle",
        "ALTER TABLE lifecycle ADD COLUMN IF NOT EXISTS actor VARCHAR",
    ),
    3: (  # rollout coverage history
        """CREATE TABLE IF NOT EXISTS coverage_steps (
            experiment VARCHAR NOT NULL, phase INTEGER NOT NULL, coverage DOUBLE NOT NULL,
            hash_seed VARCHAR, step_at TIMESTAMP NOT NULL, actor VARCHAR, reason VARCHAR)""",
    ),
    4: (  # incremental refresh state
        """CREATE TABLE IF NOT EXISTS analysis_state (
            experiment VARCHAR PRIMARY KEY, spec_hash VARCHAR, watermark TIMESTAMP, updated_at TIMESTAMP)""",
    ),
    5: (  # reviewers' labels of reason texts
        """CREATE TABLE IF NOT EXISTS text_labels (
            experiment VARCHAR, arm VARCHAR, item_id VARCHAR, text VARCHAR, label VARCHAR,
            labeler VARCHAR, labeled_at TIMESTAMP, note VARCHAR)""",
    ),
    6: (  # a ship is a coverage phase that serves one arm to everyone it covers
        "ALTER TABLE coverage_steps ADD COLUMN IF NOT EXISTS shipped_arm VARCHAR",
    ),
    7: (  # integer user keys: the dictionary, a user_key column on the keyed log tables, backfilled
        "CREATE TABLE IF NOT EXISTS user_keys (user_id VARCHAR NOT NULL, user_key INTEGER NOT NULL)",
        *_user_key_statements("exposures"),
        *_user_key_statements("events"),
        *_user_key_statements("users"),
    ),
}
SCHEMA_VERSION = max(MIGRATIONS, default=1)

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class WarehouseError(AbkitError, RuntimeError):
    """A one-line, user-facing problem with the database."""


def check_identifier(name: str) -> str:
    """Identifiers are never built from user strings; this guards the few that are chosen from lists."""
    if not _IDENT.match(name):
        raise WarehouseError(f"invalid identifier {name!r}")
    return name


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The version recorded in the database (0: none recorded)."""
    if not has_table(con, "schema_version"):
        return 0
    rows = con.execute("SELECT max(version) FROM schema_version").fetchall()  # all: no result left open
    return int(rows[0][0]) if rows and rows[0][0] is not None else 0


def _in_transaction(con: duckdb.DuckDBPyConnection) -> bool:
    """True inside an explicit transaction: there, two statements share one transaction id
    (in auto-commit mode each statement is a transaction of its own). A BEGIN that fails there
    would abort the caller's transaction, so we ask first."""
    ids = [con.execute("SELECT txid_current()").fetchone() for _ in range(2)]
    return ids[0] == ids[1]


@contextlib.contextmanager
def atomic(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """A transaction of its own, or none where the caller already holds one (it covers us)."""
    if _in_transaction(con):
        yield
        return
    with transaction(con):
        yield


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create a fresh database at SCHEMA_VERSION, or migrate an older one step by step."""
    current = schema_version(con)
    if current > SCHEMA_VERSION:
        raise WarehouseError(
            f"database schema version {current} is newer than this abkit ({SCHEMA_VERSION}); upgrade abkit"
        )
    if current == 0:
        with atomic(con):
            for table in TABLES.values():
                con.execute(f"CREATE TABLE IF NOT EXISTS {table.name} ({table.ddl()})")
            con.execute("INSERT INTO schema_version VALUES (?, now())", [SCHEMA_VERSION])
        return
    # A one-time step can take minutes on a large file (migration 7 keys every stored user id):
    # say so on stderr (the logging module's last-resort handler) instead of hanging silently.
    if current < SCHEMA_VERSION:
        _log.warning("abkit: migrating the warehouse from schema version %d to %d (one-time)", current, SCHEMA_VERSION)
    for version in range(current + 1, SCHEMA_VERSION + 1):
        with atomic(con):
            for statement in MIGRATIONS[version]:
                con.execute(statement)
            con.execute("INSERT INTO schema_version VALUES (?, now())", [version])


def assign_user_keys(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Give ``table``'s rows without a user_key theirs: new user ids get the next free keys in
    ``user_keys`` (migration 7, the benchmarks' and tests' writers, tables filled by other means than
    ingest); a no-op for tables without a user_id."""
    if table not in KEYED_TABLES:
        return
    for statement in _user_key_statements(check_identifier(table)):
        con.execute(statement)


def add_user_keys(con: duckdb.DuckDBPyConnection, ids_sql: str) -> None:
    """Give the user ids that ``ids_sql`` (a SELECT of distinct ``user_id``) returns and that have no
    key yet the next free keys. Ingest calls it before an append, so the INSERT itself carries each
    row's key (an UPDATE of the appended rows afterwards costs about as much as the append)."""
    con.execute(_NEW_USER_KEYS.format(ids=ids_sql))


def user_keys_complete(con: duckdb.DuckDBPyConnection) -> bool:
    """True when every row of the keyed log tables carries its user_key, so an analysis may group
    and join on the keys instead of the strings (rows written around ingest have none)."""
    if not has_table(con, "user_keys"):
        return False
    for table in KEYED_TABLES:
        row = con.execute("SELECT count(*) FROM information_schema.columns WHERE table_name = ? "
                          "AND column_name = 'user_key'", [table]).fetchone()
        if not row or not row[0]:
            return False
        unkeyed = con.execute(f"SELECT count(*) FROM (SELECT 1 FROM {table} WHERE user_key IS NULL LIMIT 1)").fetchone()
        if not unkeyed or unkeyed[0]:
            return False
    return True


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
        version = schema_version(con)
        if missing or version != SCHEMA_VERSION:
            con.close()
        if missing:
            raise WarehouseError(f"{path}: not an abkit database (no {missing[0]} table)")
        if version < SCHEMA_VERSION:
            raise WarehouseError(
                f"{path}: database schema version {version} is older than this abkit ({SCHEMA_VERSION}); "
                "open it read-write once to migrate it (e.g. `abkit ingest` or `abkit analyze`)"
            )
        if version > SCHEMA_VERSION:
            raise WarehouseError(
                f"{path}: database schema version {version} is newer than this abkit ({SCHEMA_VERSION}); upgrade abkit"
            )
    return con


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    row = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
    ).fetchone()
    return bool(row and row[0])


@contextlib.contextmanager
def open_warehouse(path: str | os.PathLike[str] = DEFAULT_DB, **kwargs: Any) -> Iterator[duckdb.DuckDBPyConnection]:
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


def os_user() -> str:
    """Who a lifecycle row records when no token name or --user is given: the OS user, or
    "unknown" where the process has no passwd entry (containers)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def set_experiment_state(
    con: duckdb.DuckDBPyConnection, experiment: str, state: str, note: str | None = None, *, actor: str | None = None
) -> None:
    """Append a lifecycle row; ``actor`` is who made the change (a token name, --user or the OS user)."""
    if state not in EXPERIMENT_STATES:
        raise WarehouseError(f"unknown experiment state {state!r} (one of {', '.join(EXPERIMENT_STATES)})")
    con.execute("INSERT INTO lifecycle (experiment, state, changed_at, note, actor) VALUES (?, ?, now(), ?, ?)",
                [experiment, state, note, actor])


def experiment_states(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    """Latest state per experiment: (experiment, state, changed_at)."""
    rows = con.execute(
        """
        SELECT experiment, state, strftime(changed_at, '%Y-%m-%d %H:%M') FROM (
            SELECT *, row_number() OVER (PARTITION BY experiment ORDER BY changed_at DESC, rowid DESC) AS rn
            FROM lifecycle) WHERE rn = 1 ORDER BY experiment
        """
    ).fetchall()
    return [(str(e), str(s), str(t)) for e, s, t in rows]


def experiment_state(con: duckdb.DuckDBPyConnection, experiment: str) -> str | None:
    """The latest lifecycle state of one experiment (None: none recorded)."""
    row = con.execute("SELECT state FROM lifecycle WHERE experiment = ? ORDER BY changed_at DESC, rowid DESC LIMIT 1",
                      [experiment]).fetchone()
    return str(row[0]) if row else None


@dataclass(frozen=True)
class CoverageStep:
    """One step of an experiment's rollout: from ``step_at`` on, ``coverage`` of traffic (0 = rolled
    back) is in the experiment, in ``phase`` with its own ``hash_seed``; who and why. A step with
    ``shipped_arm`` belongs to a ship: the covered users all get that arm, the others the default."""

    experiment: str
    phase: int
    coverage: float
    hash_seed: str | None
    step_at: dt.datetime
    actor: str | None
    reason: str | None
    shipped_arm: str | None = None


def record_coverage(
    con: duckdb.DuckDBPyConnection,
    experiment: str,
    coverage: float,
    *,
    phase: int,
    hash_seed: str | None,
    actor: str | None,
    reason: str | None,
    at: dt.datetime | None = None,
    shipped_arm: str | None = None,
) -> CoverageStep:
    """Append a rollout step: from ``at`` (default now, naive UTC) ``coverage`` (0 <= coverage <= 1;
    0 rolls the experiment back) of traffic is in ``experiment`` — in ``shipped_arm`` for a ship."""
    if not 0 <= coverage <= 1:
        raise WarehouseError(f"coverage must be in [0, 1], got {coverage!r}")
    if phase < 0:
        raise WarehouseError(f"phase must be >= 0, got {phase!r}")
    when = at if at is not None else dt.datetime.now(dt.UTC).replace(tzinfo=None)
    con.execute(
        "INSERT INTO coverage_steps (experiment, phase, coverage, hash_seed, step_at, actor, reason, shipped_arm)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [experiment, phase, float(coverage), hash_seed, when, actor, reason, shipped_arm],
    )
    return CoverageStep(experiment, phase, float(coverage), hash_seed, when, actor, reason, shipped_arm)


def current_coverage(con: duckdb.DuckDBPyConnection, experiment: str) -> CoverageStep | None:
    """The latest step recorded for ``experiment`` (None: never recorded, or a warehouse without the table)."""
    if not has_table(con, "coverage_steps"):
        return None
    row = con.execute(
        "SELECT experiment, phase, coverage, hash_seed, step_at, actor, reason, shipped_arm FROM coverage_steps"
        " WHERE experiment = ? ORDER BY step_at DESC, rowid DESC LIMIT 1",
        [experiment],
    ).fetchone()
    return None if row is None else CoverageStep(*row)


def shipped_at(con: duckdb.DuckDBPyConnection, experiment: str) -> dt.datetime | None:
    """When ``experiment`` was first shipped (its first step with a ``shipped_arm``), or None."""
    if not has_table(con, "coverage_steps"):
        return None
    row = con.execute("SELECT min(step_at) FROM coverage_steps WHERE experiment = ? AND shipped_arm IS NOT NULL",
                      [experiment]).fetchone()
    return row[0] if row else None

"""abkit/schema.py is the one definition: the warehouse DDL and the simulator's Arrow schemas match it."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from abkit.schema import (
    EVENT_TYPES,
    KIND_TYPES,
    LOG_TABLES,
    OWN_TABLES,
    TABLES,
    Column,
    LogTable,
    row_checks,
    sql_list,
)
from abkit.warehouse import ensure_schema
from experiments.simulate import traffic


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str, bool]]:
    rows = con.execute(
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_name = ? "
        "ORDER BY ordinal_position", [table]).fetchall()
    return [(n, t, nullable == "YES") for n, t, nullable in rows]


def test_warehouse_tables_are_the_schema_modules() -> None:
    con = duckdb.connect()
    ensure_schema(con)
    for name, table in TABLES.items():
        expected = [(c.name, c.duckdb_type, not c.required and c.name != table.primary_key) for c in table.columns]
        assert _columns(con, name) == expected, name
    # log tables: the fields, then extra, source_file, ingested_at (and user_key where they hold a user_id)
    assert TABLES["events"].names[-4:] == ["extra", "source_file", "ingested_at", "user_key"]
    assert TABLES["items"].names[-3:] == ["extra", "source_file", "ingested_at"]
    assert set(LOG_TABLES) == {"exposures", "events", "reasons", "items", "users"}
    assert not set(LOG_TABLES) & set(OWN_TABLES)


def test_primary_key_is_enforced() -> None:
    con = duckdb.connect()
    ensure_schema(con)
    con.execute("INSERT INTO analysis_state VALUES ('exp', 'h1', NULL, now())")
    with pytest.raises(duckdb.ConstraintException):
        con.execute("INSERT INTO analysis_state VALUES ('exp', 'h2', NULL, now())")


@pytest.mark.parametrize("kind", sorted(KIND_TYPES))
def test_arrow_type_reads_back_as_the_duckdb_type(kind: str) -> None:
    """An Arrow column of a kind lands in DuckDB with the kind's type (json travels as text)."""
    con = duckdb.connect()
    con.register("arrow_in", pa.table({"c": pa.array([], KIND_TYPES[kind].arrow)}))
    (typ,) = [r[1] for r in con.execute("DESCRIBE arrow_in").fetchall()]
    assert typ == ("VARCHAR" if kind == "json" else KIND_TYPES[kind].duckdb)


def test_simulator_writes_the_schema() -> None:
    for schema, table in ((traffic.EXPOSURE_SCHEMA, "exposures"), (traffic.EVENT_SCHEMA, "events")):
        fields = LOG_TABLES[table].fields
        assert schema.names[: len(fields)] == [f.name for f in fields]
        assert [schema.field(f.name).type for f in fields] == [f.arrow_type for f in fields]
    assert traffic.EXPOSURE_SCHEMA.names[-1] == "platform"  # an extra column, kept in `extra` on ingest


def test_simulator_event_codes_follow_the_schema_order() -> None:
    """The simulator codes event types 0..3 (2 = order: revenue and order ids hang on it)."""
    assert list(traffic.EVENT_TYPES) == list(EVENT_TYPES)
    assert EVENT_TYPES.index("click") == 0 and EVENT_TYPES.index("order") == 2 and EVENT_TYPES.index("refund") == 3


def test_row_checks_order_and_wording() -> None:
    events = LOG_TABLES["events"]
    checks = row_checks(events, {"ts": "TS_BAD", "revenue": "REV_BAD"})
    assert [c.reason for c in checks] == [
        "missing event_id", "NUL byte in event_id", "unparseable ts", "missing ts", "missing user_id",
        "NUL byte in user_id", "missing item_id", "NUL byte in item_id", "missing type", "unknown event type",
        "revenue is not a number", "blank order_id", "NUL byte in order_id", "negative revenue",
        "ts outside [2000-01-01, 2100-01-01)", "revenue above 1,000,000,000"]
    (enum_check,) = [c for c in checks if c.reason == "unknown event type"]
    for t in EVENT_TYPES:
        assert f"'{t}'" in enum_check.condition


def test_schema_values_cannot_carry_quotes_into_sql() -> None:
    with pytest.raises(ValueError):
        sql_list(("click", "it's"))
    bad = LogTable("t", "k", (Column("k", "id", True), Column("kind", "enum", True, ("a'b",))))
    with pytest.raises(ValueError):
        row_checks(bad, {})


def test_unknown_names_are_key_errors() -> None:
    with pytest.raises(KeyError, match="no field"):
        LOG_TABLES["events"].field("price")
    with pytest.raises(KeyError, match="no column"):
        TABLES["lifecycle"].column("who")

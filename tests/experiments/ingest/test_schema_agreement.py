"""Ingest and the engines' cleaning SQL read abkit/schema.py the same way: same reasons, in the
same order, same accepted rows and the warehouse's column types."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from abkit.schema import EVENT_TYPES, LOG_TABLES
from abkit.warehouse import connect, ensure_schema
from experiments.analysis.engines import DuckDBEngine, Sources, load_sources
from experiments.ingest.files import ingest_files
from experiments.ingest.sql import stage_select

OK_TS = "2026-11-01T10:00:00Z"
# One row per case; several rows break two rules at once, so the first failing check decides.
EVENTS = [
    # event_id, ts, user_id, item_id, type, revenue, order_id
    ("e1", OK_TS, "u1", "i1", "click", None, None),
    ("e2", "2026-11-01T18:00:00+08:00", "u1", "i1", " ORDER ", "12.5", "o1"),
    ("e3", OK_TS, "u1", "i1", "order", None, "o2"),  # kept, revenue 0, a warning
    ("e4", OK_TS, "u1", "i1", "refund", "3", "o1"),
    ("e5", OK_TS, "u1", "i1", "cart", "", ""),
    ("", OK_TS, "", "i1", "view", "-1", None),  # missing event_id first
    ("e6", "noon", "", "i1", "view", None, None),  # unparseable ts before missing user_id
    ("e7", None, "u1", "i1", "click", None, None),  # missing ts
    ("e8", OK_TS, "u1", "", "view", None, None),  # missing item_id before unknown type
    ("e9", OK_TS, "u1", "i1", "", "abc", None),  # missing type before bad revenue
    ("e10", OK_TS, "u1", "i1", "purchase", "-1", None),  # unknown type before negative revenue
    ("e11", OK_TS, "u1", "i1", "order", "abc", None),  # not a number
    ("e12", OK_TS, "u1", "i1", "order", "inf", None),  # not finite
    ("e13", OK_TS, "u1", "i1", "order", "-2", None),  # negative revenue
    ("e14", OK_TS, "u1", "i1", "order", "1_000", None),  # digit separators: not a number
    ("e15", OK_TS, "u1", "i1", "order", "1.7e308", None),  # finite, but no real revenue
    ("e16", OK_TS, "u1", "i1", "order", "0", None),  # a zero-revenue order is kept
    ("e17", "infinity", "u1", "i1", "click", None, None),  # outside the plausible years
    ("e18", OK_TS, " \t", "i1", "click", None, None),  # a whitespace-only id is missing
    ("e19", OK_TS, "u\x00", "i1", "click", None, None),  # NUL byte in an id
    ("e20", OK_TS, "u1", "i1", "click", None, "  "),  # blank optional id
    ("e1", OK_TS, "u1", "i1", "click", None, None),  # exact duplicate
]
EXPOSURES = [
    # event_id, ts, experiment, user_id, item_id, arm, reason_id, fallback
    ("x1", OK_TS, "exp", "u1", "i1", "control", None, "false"),
    ("x2", OK_TS, "exp", "u2", "i1", "ai", "r1", "TRUE"),
    ("x3", OK_TS, "", "u2", "i1", "", "r1", "maybe"),  # missing experiment first
    ("x4", OK_TS, "exp", "u2", "i1", "", "", "maybe"),  # missing arm before bad fallback
    ("x5", OK_TS, "exp", "u2", "i1", "ai", "", "maybe"),  # fallback is not a boolean
    ("x6", "2026-13-01", "exp", "", "i1", "ai", None, None),  # unparseable ts before missing user_id
    ("x2", OK_TS, "exp", "u2", "i1", "ai", "r1", "TRUE"),  # exact duplicate
]


def _parquet(path: Path, table: str, rows: list[tuple[str | None, ...]]) -> Path:
    names = LOG_TABLES[table].names
    columns = {n: pa.array([r[i] for r in rows], pa.string()) for i, n in enumerate(names)}
    pq.write_table(pa.table(columns), path)
    return path


@pytest.fixture
def raw_files(tmp_path: Path) -> dict[str, Path]:
    return {"exposures": _parquet(tmp_path / "exposures.parquet", "exposures", EXPOSURES),
            "events": _parquet(tmp_path / "events.parquet", "events", EVENTS)}


def test_ingest_and_cleaning_sql_agree(tmp_path: Path, raw_files: dict[str, Path]) -> None:
    con = connect(tmp_path / "w.duckdb")
    reports = {t: ingest_files(con, t, [p]).total for t, p in raw_files.items()}
    engine = DuckDBEngine(duckdb.connect())
    loaded = load_sources(engine, Sources(exposures=str(raw_files["exposures"]), events=str(raw_files["events"])))
    for table in raw_files:
        quarantined = Counter(dict(con.execute(
            "SELECT reason, count(*) FROM quarantine WHERE table_name = ? GROUP BY reason", [table]).fetchall()))
        counts = loaded.counts[table]
        cleaned = Counter({k: v for k, v in counts.items() if k not in ("accepted", "duplicate")})
        assert cleaned == quarantined, table
        assert (counts["accepted"], counts.get("duplicate", 0)) == (reports[table].accepted, reports[table].duplicates)
        names = LOG_TABLES[table].names
        stored = con.execute(f"SELECT {', '.join(names)} FROM {table} ORDER BY event_id").fetchall()
        clean = engine.con.execute(f"SELECT {', '.join(names)} FROM {getattr(loaded.rel, table)} ORDER BY event_id").fetchall()
        assert clean == stored, table
    # the cases above reach every reason the schema can give for these tables
    assert set(loaded.counts["events"]) >= {"missing event_id", "unparseable ts", "missing ts", "missing item_id",
                                            "missing type", "unknown event type", "revenue is not a number",
                                            "negative revenue", "duplicate"}
    assert "fallback is not a boolean" in loaded.counts["exposures"]


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_every_event_type_is_accepted_by_both_readers(tmp_path: Path, event_type: str) -> None:
    revenue = "5" if event_type in ("order", "refund") else None
    rows = [("e1", OK_TS, "u", "i", event_type.upper(), revenue, None), ("e2", OK_TS, "u", "i", "pageview", None, None)]
    path = _parquet(tmp_path / "events.parquet", "events", rows)
    con = connect(tmp_path / "w.duckdb")
    report = ingest_files(con, "events", [path]).total
    assert (report.accepted, report.quarantined) == (1, 1)
    assert con.execute("SELECT type FROM events").fetchall() == [(event_type,)]
    loaded = load_sources(DuckDBEngine(duckdb.connect()),
                          Sources(exposures=str(_parquet(tmp_path / "x.parquet", "exposures", EXPOSURES[:1])),
                                  events=str(path)))
    assert loaded.counts["events"] == {"accepted": 1, "unknown event type": 1}


@pytest.mark.parametrize("table", list(LOG_TABLES))
def test_ingest_types_every_field_as_the_warehouse_stores_it(table: str) -> None:
    """The typed select's column types equal the DDL's (an INSERT would cast silently otherwise)."""
    schema = LOG_TABLES[table]
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    cols = ", ".join(f"CAST(NULL AS VARCHAR) AS c{i}" for i in range(len(schema.fields)))
    source = (f"SELECT 0 AS __ord, CAST(NULL AS VARCHAR) AS __raw, CAST(NULL AS VARCHAR) AS __bad, "
              f"CAST(NULL AS MAP(VARCHAR, VARCHAR)) AS __extra, {cols}")
    select = stage_select(schema, {f.name: (f"c{i}", "VARCHAR") for i, f in enumerate(schema.fields)}, "NULL", source)
    typed = dict((r[0], r[1]) for r in con.execute(f"DESCRIBE {select}").fetchall())
    stored = dict(warehouse_types(table))
    for f in schema.fields:
        assert typed[f.name] == stored[f.name] == f.duckdb_type, f.name


def warehouse_types(table: str) -> list[tuple[str, str]]:
    con = duckdb.connect()
    ensure_schema(con)
    return con.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
        [table]).fetchall()


@pytest.mark.parametrize("table", ["exposures", "events"])
def test_cleaned_rows_have_the_warehouse_types(raw_files: dict[str, Path], table: str) -> None:
    engine = DuckDBEngine(duckdb.connect())
    loaded = load_sources(engine, Sources(exposures=str(raw_files["exposures"]), events=str(raw_files["events"])))
    clean = dict((r[0], r[1]) for r in engine.con.execute(f"DESCRIBE {getattr(loaded.rel, table)}").fetchall())
    stored = dict(warehouse_types(table))
    assert {n: clean[n] for n in LOG_TABLES[table].names} == {n: stored[n] for n in LOG_TABLES[table].names}

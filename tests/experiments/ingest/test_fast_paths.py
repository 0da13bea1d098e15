"""The shortcuts ingest takes for speed decide exactly as the plain rules do.

* ``blank_condition`` tests a cheap ``< '!'`` before its replace/trim chain: checked against
  Python's definition of blank (only spaces, tabs and line breaks) on every short string over an
  alphabet that straddles the cut.
* Unparseable values are detected from the typed column (each value parsed once): a value that
  parses stays, one that does not is quarantined, across all parsed kinds.
* CSV rows go from DuckDB's reader straight into the stage: in-file duplicates keep the first
  record of the file and quarantine lines stay exact when the file is read in several chunks.
* An enum value already in its stored form skips lower/trim: every case and spacing of the values
  types as lower(trim()) does.
* Timestamps become naive UTC from their epoch microseconds, not by the ICU cast: checked against
  Python's own ISO 8601 parsing (text with offsets) and against the cast (every range, infinities).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import random
from pathlib import Path

import duckdb
import pytest

from abkit.schema import LOG_TABLES, blank_condition
from abkit.warehouse import connect
from experiments.ingest.files import ingest_files
from experiments.ingest.sql import parse_ts_text, typed_expr, utc_naive

# Below, at and above the '!' cut; the four blank characters; a NUL; a multi-byte character.
ALPHABET = ["", " ", "\t", "\n", "\r", "\x00", "\x1f", "!", "a", "中", "\x0b"]


def _strings() -> list[str]:
    out = {"".join(p) for n in range(4) for p in itertools.product(ALPHABET, repeat=n)}
    return sorted(out)


def test_blank_condition_matches_its_definition() -> None:
    values = _strings()
    con = duckdb.connect()
    con.execute("CREATE TABLE v (i INTEGER, s VARCHAR)")
    con.executemany("INSERT INTO v VALUES (?, ?)", list(enumerate(values)) + [(len(values), None)])
    got = dict(con.execute(f"SELECT i, {blank_condition('s')} FROM v").fetchall())
    for i, s in enumerate(values):
        assert got[i] == (s.strip(" \t\n\r") == ""), repr(s)
    assert got[len(values)] is None  # NULL stays NULL (missing_condition tests IS NULL first)


def test_enum_fast_path_types_every_spelling_as_lower_trim() -> None:
    field = LOG_TABLES["events"].field("type")
    spellings = {f"{pad}{case(v)}{pad2}" for v in field.values + ("view", "")
                 for case in (str, str.upper, str.title) for pad in ("", " ") for pad2 in ("", " ", "\t")}
    con = duckdb.connect()
    con.execute("CREATE TABLE v (s VARCHAR)")
    con.executemany("INSERT INTO v VALUES (?)", [(x,) for x in sorted(spellings)] + [(None,)])
    expr, _ = typed_expr(field, "s", "VARCHAR")
    differ = con.execute(f"SELECT s FROM v WHERE ({expr}) IS DISTINCT FROM lower(trim(s))").fetchall()
    assert differ == [] and len(spellings) > 50


def _utc_con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")  # as during ingest
    return con


def test_iso_text_with_offsets_becomes_the_utc_wall_clock_python_computes() -> None:
    rnd = random.Random(18)
    texts = []
    for _ in range(3000):
        t = dt.datetime(1, 1, 1) + dt.timedelta(seconds=rnd.randrange(0, 3_155_000_000 * 100),
                                                microseconds=rnd.randrange(0, 1_000_000))
        minutes = rnd.randrange(-23 * 60 - 59, 23 * 60 + 60)
        zone = "Z" if minutes == 0 else f"{'+' if minutes > 0 else '-'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
        texts.append(t.isoformat() + rnd.choice(["", zone, zone]))
    con = _utc_con()
    con.execute("CREATE TABLE v (i INTEGER, s VARCHAR)")
    con.executemany("INSERT INTO v VALUES (?, ?)", list(enumerate(texts)))
    got = dict(con.execute(f"SELECT i, {parse_ts_text('s')} FROM v").fetchall())
    for i, text in enumerate(texts):
        want = dt.datetime.fromisoformat(text)
        if want.tzinfo is not None:
            want = (want - want.utcoffset()).replace(tzinfo=None)  # type: ignore[operator]
        if dt.datetime(1, 1, 2) <= want <= dt.datetime(9999, 12, 30):  # Python cannot shift past its range
            assert got[i] == want, text


def test_utc_naive_equals_the_cast_over_the_whole_range() -> None:
    rnd = random.Random(15)
    lo, hi = -9_223_372_022_400_000_000, 9_223_372_036_854_775_806  # TIMESTAMP's microsecond range
    micros = [lo, hi, -1, 0, 1] + [rnd.randrange(lo, hi) for _ in range(20_000)]
    con = _utc_con()
    con.execute("CREATE TABLE v (m BIGINT)")
    con.executemany("INSERT INTO v VALUES (?)", [(m,) for m in micros])
    con.execute("""CREATE TABLE z AS SELECT CAST(make_timestamp(m) AS TIMESTAMPTZ) AS x FROM v
                   UNION ALL SELECT * FROM (VALUES (CAST('infinity' AS TIMESTAMPTZ)),
                                                   (CAST('-infinity' AS TIMESTAMPTZ)), (NULL))""")
    differ = con.execute(f"SELECT count(*), count(x) FROM z WHERE {utc_naive('x')} IS DISTINCT FROM CAST(x AS TIMESTAMP)"
                         ).fetchone()
    assert differ == (0, 0)
    assert con.execute("SELECT count(*) FROM z").fetchone() == (len(micros) + 3,)


def test_each_value_is_judged_by_its_typed_column(tmp_path: Path) -> None:
    rows = [  # exposures: ts, fallback (bool) -- event_id, expected reason
        ("2026-11-01T10:00:00Z", "true", "a1", None),
        ("2026-11-01 10:00:00", " FALSE ", "a2", None),
        ("2026-11-01T10:00:00+08:00", "", "a3", None),  # empty bool: missing, allowed
        ("2026-13-01T10:00:00Z", "true", "a4", "unparseable ts"),
        ("  ", "true", "a5", "missing ts"),  # blank text is missing, not unparseable
        ("2026-11-01T10:00:00Z", "maybe", "a6", "fallback is not a boolean"),
    ]
    path = tmp_path / "x.csv"
    path.write_text("event_id,ts,experiment,user_id,item_id,arm,fallback\n"
                    + "".join(f"{e},{ts},exp,u,i,a,{fb}\n" for ts, fb, e, _ in rows), encoding="utf-8")
    con = connect(tmp_path / "w.duckdb")
    ingest_files(con, "exposures", [path])
    stored = {r[0] for r in con.execute("SELECT event_id FROM exposures").fetchall()}
    reasons = {json.loads(raw)["event_id"]: reason
               for raw, reason in con.execute("SELECT raw, reason FROM quarantine").fetchall()}
    assert stored == {e for *_, e, why in rows if why is None}
    assert reasons == {e: why for *_, e, why in rows if why is not None}
    events = tmp_path / "e.csv"
    events.write_text("event_id,ts,user_id,item_id,type,revenue\n"
                      "r1,2026-11-01,u,i,order,nan\nr2,2026-11-01,u,i,order,inf\nr3,2026-11-01,u,i,order, 2.5 \n",
                      encoding="utf-8")
    ingest_files(con, "events", [events])
    assert con.execute("SELECT event_id, revenue FROM events").fetchall() == [("r3", 2.5)]
    assert sorted(r[0] for r in con.execute(
        "SELECT reason FROM quarantine WHERE table_name = 'events'").fetchall()) == ["revenue is not a number"] * 2


@pytest.mark.slow
def test_a_large_csv_keeps_file_order_for_first_wins_and_lines(tmp_path: Path) -> None:
    """~60 MB: DuckDB reads it in several buffers, possibly on several threads."""
    n = 600_000
    path = tmp_path / "big.csv"
    src = duckdb.connect()
    src.execute("SET enable_progress_bar = false")
    # Every key is sent twice: records 0 .. n/2-1 with user 'first', then again with user 'later';
    # records 100_000 and n-1 (0-based) have an unknown type.
    src.execute(f"""COPY (SELECT 'k' || CAST(i % {n // 2} AS VARCHAR) AS event_id, '2026-11-01T00:00:00Z' AS ts,
                           CASE WHEN i < {n // 2} THEN 'first' ELSE 'later' END AS user_id,
                           repeat('x', 60) AS item_id,
                           CASE WHEN i IN (100000, {n - 1}) THEN 'view' ELSE 'click' END AS type
                    FROM range({n}) t(i) ORDER BY i) TO '{path}' (FORMAT csv, HEADER)""")
    con = connect(tmp_path / "w.duckdb")
    rep = ingest_files(con, "events", [path]).total
    # Key 100000's first record is bad, so its later one wins; key n/2 - 1 keeps its first record.
    assert (rep.read, rep.quarantined, rep.accepted, rep.duplicates) == (n, 2, n // 2, n // 2 - 2)
    users = dict(con.execute("SELECT user_id, count(*) FROM events GROUP BY 1").fetchall())
    assert users == {"first": n // 2 - 1, "later": 1}
    assert con.execute("SELECT user_id FROM events WHERE event_id = 'k100000'").fetchone() == ("later",)
    lines = [r[0] for r in con.execute("SELECT line FROM quarantine ORDER BY line").fetchall()]
    assert lines == [100_002, n + 1]  # the header is line 1: record i is line i + 2


@pytest.mark.parametrize("key_hash", ["hash({key})", "length({key})", "CAST(1 AS UBIGINT)"])
def test_in_file_duplicates_are_told_apart_by_key_not_by_hash(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key_hash: str) -> None:
    """Duplicates are found by grouping a hash of the key; keys whose hashes collide (here forced:
    by length, or all alike) must still be different rows, and each key's first valid copy wins."""
    import experiments.ingest.files as files

    monkeypatch.setattr(files, "_KEY_HASH", key_hash)
    path = tmp_path / "e.csv"
    path.write_text("event_id,ts,user_id,item_id,type\n"
                    "a1,2026-11-01,u1,i,click\n"   # a1 first copy: wins
                    "b2,2026-11-01,u2,i,view\n"    # b2 first copy bad: quarantined
                    "b2,2026-11-01,u3,i,click\n"   # so this b2 wins
                    "a1,2026-11-01,u4,i,click\n"   # a1 again: duplicate
                    "c3,2026-11-01,u5,i,click\n"   # same length as a1/b2, no copy
                    "b2,2026-11-01,u6,i,cart\n"    # b2 again: duplicate
                    "dd4,2026-11-01,u7,i,click\n", encoding="utf-8")
    con = connect(tmp_path / "w.duckdb")
    con.execute("INSERT INTO events (event_id, ts, user_id, item_id, type, ingested_at) "
                "VALUES ('dd4', '2026-10-01', 'stored', 'i', 'click', now())")
    rep = ingest_files(con, "events", [path]).total
    assert (rep.read, rep.accepted, rep.quarantined, rep.duplicates) == (7, 3, 1, 3)
    assert dict(con.execute("SELECT event_id, user_id FROM events").fetchall()) == {
        "a1": "u1", "b2": "u3", "c3": "u5", "dd4": "stored"}


def test_timings_name_every_step_and_sum_over_files(tmp_path: Path) -> None:
    files = []
    for i in range(2):
        files.append(tmp_path / f"e{i}.csv")
        files[-1].write_text(f"event_id,ts,user_id,item_id,type\ne{i},2026-11-01,u,i,click\n", encoding="utf-8")
    steps: dict[str, float] = {"insert": 100.0}  # added to, not replaced
    cpu: dict[str, float] = {}
    ingest_files(connect(tmp_path / "w.duckdb"), "events", files, timings=steps, cpu_timings=cpu)
    assert set(steps) == set(cpu) == {"read+validate", "quarantine", "find duplicates", "insert", "user keys", "commit"}
    assert all(v >= 0 for v in steps.values()) and steps["insert"] > 100.0 and all(v >= 0 for v in cpu.values())
    assert sum(cpu.values()) > 0

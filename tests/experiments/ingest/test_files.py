"""Ingestion: exact counts over mixed formats, quarantine, idempotency, atomic failures, CLI."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from abkit.warehouse import TABLES, connect
from experiments.ingest.files import IngestError, ingest_files

T = dt.datetime
SHANGHAI = ZoneInfo("Asia/Shanghai")

EVENTS_CSV = """event_id,ts,user_id,item_id,type,revenue,platform
00123,2026-11-01T10:00:00Z,007,i1,click,,ios
00124,2026-11-01T18:30:00+08:00,007,i1,order,12.5,ios
,2026-11-01T10:00:00Z,u2,i2,click,,android
00126,notatime,u2,i2,click,,android
00127,2026-11-01 10:00:00,u2,i2,cart,,android,EXTRA_FIELD
00128,2026-11-01 10:00:00,u2,i2,order,,android
00129,2026-11-01 10:00:00,u2,i2,order,-1,android
00130,2026-11-01 10:00:00,u3,i2,view,,android
00131,2026-11-01 10:00:00,u3,i2,Click,abc,android
00123,2026-11-02 10:00:00,u3,i2,click,,dup-in-file
00132,2026-11-01 23:00:00-05:00,u3,i3,refund,4.5,web
"""
# line 1 header; bad: 4 missing id, 5 bad ts, 6 too many columns, 8 negative revenue,
# 9 unknown type, 10 revenue not a number; 11 duplicate of line 2; 7 order without revenue.

EVENTS_JSONL = [
    '{"event_id": "j1", "ts": "2026-11-01T00:00:00Z", "user_id": "00042", "item_id": "i", "type": "click", "country": "cn"}',
    "",
    "{bad json",
    '{"event_id": "j2", "ts": "2026-11-01T08:00:00+08:00", "user_id": 8, "item_id": "i", "type": "order", '
    '"revenue": 3, "order_id": "O1", "nested": {"a": [1]}}',
    "[1, 2]",
    '{"event_id": "00124", "ts": "2026-11-01T00:00:00Z", "user_id": "x", "item_id": "i", "type": "click"}',
    '{"event_id": "j3", "user_id": "x", "item_id": "i", "type": "click"}',
]
# lines: 1 ok, 2 blank (skipped), 3 invalid, 4 ok, 5 not an object, 6 duplicate across files, 7 missing ts


def events_parquet(path: Path) -> Path:
    pq.write_table(pa.table({
        "event_id": ["p1", "p2", "p1", None, "p3"],
        "ts": pa.array([T(2026, 11, 1, h, tzinfo=SHANGHAI) for h in (12, 13, 14, 0)] + [None],
                       pa.timestamp("us", tz="Asia/Shanghai")),
        "user_id": ["u", "u", "u", "u", "u"],
        "item_id": ["i", "i", "i", "i", "i"],
        "type": ["click", "refund", "click", "click", "click"],
        "revenue": [None, 5.0, None, None, None],
        "platform": ["web"] * 5,
    }), path)
    return path


@pytest.fixture
def event_files(tmp_path: Path) -> list[Path]:
    csv_path = tmp_path / "events.csv"
    csv_path.write_text(EVENTS_CSV, encoding="utf-8")
    jsonl = tmp_path / "events.jsonl"
    jsonl.write_text("\n".join(EVENTS_JSONL) + "\n", encoding="utf-8")
    return [csv_path, jsonl, events_parquet(tmp_path / "events.parquet")]


def snapshot(db: Path) -> dict[str, list]:
    con = connect(db, read_only=True)
    try:
        return {t: sorted(map(repr, con.execute(f"SELECT * FROM {t}").fetchall())) for t in TABLES}
    finally:
        con.close()


def test_mixed_formats_exact_counts_and_quarantine(tmp_path: Path, event_files: list[Path]) -> None:
    con = connect(tmp_path / "w.duckdb")
    rep = ingest_files(con, "events", event_files)
    counts = {Path(f.file).name: (f.read, f.accepted, f.quarantined, f.duplicates, f.warnings) for f in rep.files}
    assert counts == {
        "events.csv": (11, 4, 6, 1, 1),
        "events.jsonl": (6, 2, 3, 1, 0),
        "events.parquet": (5, 2, 2, 1, 0),
    }
    t = rep.total
    assert (t.read, t.accepted, t.quarantined, t.duplicates, t.warnings) == (22, 8, 11, 3, 1)
    assert t.read == t.accepted + t.quarantined + t.duplicates

    rows = {r[0]: r[1:] for r in con.execute(
        "SELECT event_id, ts, user_id, type, revenue, order_id, extra FROM events").fetchall()}
    assert set(rows) == {"00123", "00124", "00128", "00132", "j1", "j2", "p1", "p2"}
    assert rows["00123"] == (T(2026, 11, 1, 10), "007", "click", None, None, {"platform": "ios"})  # first wins
    assert rows["00124"][0] == T(2026, 11, 1, 10, 30)  # +08:00 -> UTC
    assert rows["00132"][0] == T(2026, 11, 2, 4)  # -05:00 -> UTC
    assert rows["00128"][3] == 0.0  # order without revenue kept as 0
    assert rows["j1"][1] == "00042" and rows["j1"][5] == {"country": "cn"}
    assert rows["j2"][:5] == (T(2026, 11, 1), "8", "order", 3.0, "O1")
    assert json.loads(rows["j2"][5]["nested"]) == {"a": [1]}
    assert rows["p1"][0] == T(2026, 11, 1, 4)  # Parquet TIMESTAMPTZ (12:00 +08) -> 04:00 UTC
    assert con.execute("SELECT typeof(ts) FROM events LIMIT 1").fetchone()[0] == "TIMESTAMP"

    q = con.execute("SELECT file, line, reason, raw FROM quarantine ORDER BY file, line").fetchall()
    by_file: dict[str, list] = {}
    for file, line, reason, raw in q:
        by_file.setdefault(Path(file).name, []).append((line, reason, raw))
    csv_q = by_file["events.csv"]
    assert [(line, reason) for line, reason, _ in csv_q] == [
        (4, "missing event_id"), (5, "unparseable ts"), (6, "unparseable line (too many columns)"),
        (8, "negative revenue"), (9, "unknown event type"), (10, "revenue is not a number"),
    ]
    assert "EXTRA_FIELD" in csv_q[2][2]
    assert json.loads(csv_q[1][2])["ts"] == "notatime" and json.loads(csv_q[1][2])["event_id"] == "00126"
    assert [(line, reason) for line, reason, _ in by_file["events.jsonl"]] == [
        (3, "invalid JSON line"), (5, "JSON line is not an object"), (7, "missing ts")]
    assert by_file["events.jsonl"][0][2] == "{bad json"
    assert [(line, reason) for line, reason, _ in by_file["events.parquet"]] == [
        (4, "missing event_id"), (5, "missing ts")]
    con.close()


def test_reingest_is_a_no_op(tmp_path: Path, event_files: list[Path]) -> None:
    db = tmp_path / "w.duckdb"
    con = connect(db)
    first = ingest_files(con, "events", event_files).total
    con.close()
    before = snapshot(db)
    con = connect(db)
    again = ingest_files(con, "events", list(reversed(event_files))).total
    con.close()
    assert snapshot(db) == before
    assert again.accepted == 0
    assert again.read == first.read and again.quarantined == first.quarantined
    assert again.duplicates == first.accepted + first.duplicates


def _table_counts(db: Path) -> dict[str, int]:
    con = connect(db, read_only=True)
    try:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    finally:
        con.close()


@pytest.mark.parametrize(("name", "content", "message"), [
    ("nots.csv", "event_id,user_id,item_id,type\n1,u,i,click\n", "nots.csv: missing required column 'ts'"),
    ("noid.jsonl", '{"ts": "2026-11-01", "user_id": "u", "item_id": "i", "type": "click"}\n',
     "noid.jsonl: missing required column 'event_id'"),
    ("corrupt.parquet", "this is not parquet", "corrupt.parquet: cannot read as Parquet"),
    ("empty.csv", "", "empty.csv: empty file"),
    ("events.xlsx", "x", "events.xlsx: unknown file format"),
    ("dupcol.csv", "event_id,ts,ts,user_id,item_id,type\n", "dupcol.csv: duplicate column 'ts'"),
])
def test_bad_file_leaves_database_unchanged(tmp_path: Path, event_files: list[Path], name: str,
                                            content: str, message: str) -> None:
    db = tmp_path / "w.duckdb"
    con = connect(db)
    ingest_files(con, "users", [_users_csv(tmp_path)])
    con.close()
    before = snapshot(db)
    bad = tmp_path / name
    bad.write_text(content)
    con = connect(db)
    with pytest.raises(IngestError) as err:
        ingest_files(con, "events", [event_files[0], bad])  # a good file first: rolled back too
    con.close()
    assert str(err.value).startswith(str(tmp_path / message.split(":")[0]))
    assert message.split(": ", 1)[1] in str(err.value)
    assert "\n" not in str(err.value)
    assert snapshot(db) == before


def test_parquet_column_of_unusable_type_is_a_file_error(tmp_path: Path) -> None:
    p = tmp_path / "intts.parquet"
    pq.write_table(pa.table({"event_id": ["a"], "ts": [1700000000], "user_id": ["u"], "item_id": ["i"],
                             "type": ["click"]}), p)
    con = connect(tmp_path / "w.duckdb")
    with pytest.raises(IngestError, match=r"intts.parquet: column 'ts' has type BIGINT"):
        ingest_files(con, "events", [p])
    assert con.execute("SELECT count(*) FROM events").fetchone()[0] == 0


def _users_csv(tmp_path: Path) -> Path:
    p = tmp_path / "users.csv"
    p.write_text("user_id,segment,age_band,城市\n00123,student,18-24,上海\n00123,parent,,\n0042,,35-44,北京\n",
                 encoding="utf-8")
    return p


def test_other_tables(tmp_path: Path) -> None:
    con = connect(tmp_path / "w.duckdb")
    rep = ingest_files(con, "users", [_users_csv(tmp_path)])
    assert (rep.total.read, rep.total.accepted, rep.total.duplicates) == (3, 2, 1)
    assert con.execute("SELECT user_id, segment, extra FROM users ORDER BY user_id").fetchall() == [
        ("00123", "student", {"age_band": "18-24", "城市": "上海"}),
        ("0042", None, {"age_band": "35-44", "城市": "北京"}),
    ]
    items = tmp_path / "items.csv"
    items.write_text(
        'item_id,category,brand,title,price,discount,attributes\n'
        '001,shoes,ACME,跑鞋,399,0.2,"{""material"": ""mesh""}"\n'
        '002,shoes,ACME,x,10,1.5,\n'
        '003,shoes,ACME,x,10,0,"{not json"\n'
        '004,shoes,ACME,x,-1,0,\n', encoding="utf-8")
    rep = ingest_files(con, "items", [items])
    assert (rep.total.accepted, rep.total.quarantined) == (1, 3)
    assert con.execute("SELECT item_id, price, discount, attributes->>'material' FROM items").fetchall() == [
        ("001", 399.0, 0.2, "mesh")]
    assert {r[0] for r in con.execute("SELECT reason FROM quarantine WHERE table_name = 'items'").fetchall()} == {
        "discount outside [0, 1)", "bad JSON attributes", "negative price"}
    exposures = tmp_path / "x.jsonl"
    exposures.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in [
        {"event_id": "x1", "ts": "2026-11-01T00:00:00Z", "experiment": "e", "user_id": "u", "item_id": "i",
         "arm": "对照", "reason_id": "r1", "fallback": True, "platform": "ios"},
        {"event_id": "x2", "ts": "2026-11-01T00:00:00Z", "experiment": "e", "user_id": "u", "item_id": "i",
         "arm": "t", "fallback": "maybe"},
        {"event_id": "x3", "ts": "2026-11-01T00:00:00Z", "experiment": "e", "user_id": "u", "item_id": "i"},
    ]), encoding="utf-8")
    rep = ingest_files(con, "exposures", [exposures])
    assert (rep.total.accepted, rep.total.quarantined) == (1, 2)
    assert con.execute("SELECT arm, reason_id, fallback, extra FROM exposures").fetchall() == [
        ("对照", "r1", True, {"platform": "ios"})]
    reasons = tmp_path / "r.parquet"
    pq.write_table(pa.table({"reason_id": ["r1", "r2"], "item_id": [1, 2], "text": ["好", ""],
                             "created_at": ["2026-11-01T08:00:00+08:00", None]}), reasons)
    rep = ingest_files(con, "reasons", [reasons])
    assert (rep.total.accepted, rep.total.quarantined) == (1, 1)
    assert con.execute("SELECT item_id, text, created_at FROM reasons").fetchall() == [("1", "好", T(2026, 11, 1))]
    con.close()


def test_atomic_false_runs_inside_the_callers_transaction(tmp_path: Path, event_files: list[Path]) -> None:
    con = connect(tmp_path / "w.duckdb")
    con.execute("BEGIN TRANSACTION")
    ingest_files(con, "events", event_files[:1], atomic=False)
    con.execute("ROLLBACK")
    assert con.execute("SELECT count(*) FROM events").fetchone()[0] == 0
    assert con.execute("SELECT current_setting('TimeZone')").fetchone()[0] in ("UTC", "Etc/UTC")


def _abkit(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "abkit", *args], capture_output=True, text=True, cwd=cwd)


def test_cli_ingest_exit_codes(tmp_path: Path, event_files: list[Path]) -> None:
    r = _abkit("ingest", "events", *map(str, event_files), "--db", "w.duckdb", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "TOTAL" in r.stdout and "22" in r.stdout
    bad = tmp_path / "nots.csv"
    bad.write_text("event_id,user_id,item_id,type\n1,u,i,click\n")
    r = _abkit("ingest", "events", str(bad), "--db", "w.duckdb", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0
    assert "nots.csv" in r.stderr and "'ts'" in r.stderr
    r = _abkit("ingest", "events", "absent.csv", "--db", "w.duckdb", cwd=tmp_path)
    assert r.returncode == 2 and "absent.csv: no such file" in r.stderr
    r = _abkit("ingest", "clicks", str(bad), "--db", "w.duckdb", cwd=tmp_path)
    assert r.returncode == 2  # not a table

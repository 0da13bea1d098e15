"""Ingest keeps only values that can be real data: implausible timestamps, revenue and ids are
quarantined with a reason (issue 17, finding 2), RFC 3339's lowercase t/z and a zero revenue are not."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from abkit.schema import Plausible
from abkit.warehouse import connect
from experiments.ingest.files import ingest_files

OK = "2026-11-01T10:00:00Z"
HEADER = "event_id,ts,user_id,item_id,type,revenue,order_id\n"
# event_id, ts, user_id, revenue, expected reason (None = accepted)
ROWS = [
    ("t1", "infinity", "u1", "", "ts outside [2000-01-01, 2100-01-01)"),
    ("t2", "-infinity", "u1", "", "ts outside [2000-01-01, 2100-01-01)"),
    ("t3", "epoch", "u1", "", "ts outside [2000-01-01, 2100-01-01)"),
    ("t4", "0001-01-01", "u1", "", "ts outside [2000-01-01, 2100-01-01)"),
    ("t5", "9999-12-31T20:00:00Z", "u1", "", "ts outside [2000-01-01, 2100-01-01)"),
    ("t6", "2100-01-01T00:00:00Z", "u1", "", "ts outside [2000-01-01, 2100-01-01)"),  # upper bound exclusive
    ("t7", "2000-01-01T00:00:00Z", "u1", "", None),  # lower bound inclusive
    ("t8", "2026-11-01T10:00:00+25:00", "u1", "", "unparseable ts"),  # no such offset
    ("t9", "2026-11-01T10:00:00+23:59", "u1", "", None),
    ("t10", "2026-11-01t10:00:00z", "u1", "", None),  # RFC 3339 allows lowercase
    ("t11", "2026-11-01t18:00:00+08:00", "u1", "", None),
    ("t12", OK, "   ", "", "missing user_id"),  # only whitespace
    ("t13", OK, "\t", "", "missing user_id"),
    ("t14", OK, "u1", "1_000", "revenue is not a number"),  # not read as 1000
    ("t15", OK, "u1", "1.7e308", "revenue above 1,000,000,000"),
    ("t16", OK, "u1", "1000000000", None),  # the bound itself is plausible
    ("t17", OK, "u1", "0", None),  # a zero-revenue order (a free gift) is real
    ("t18", OK, "u1", "-0.01", "negative revenue"),
]


def _csv(path, rows):
    lines = [f'{e},{ts},"{u}",i1,order,{rev},o{e}\n' for e, ts, u, rev, _ in rows]
    path.write_text(HEADER + "".join(lines), encoding="utf-8")
    return path


def _outcome(con):
    stored = {e: ts for e, ts in con.execute("SELECT event_id, ts FROM events").fetchall()}
    quarantined = {json.loads(raw)["event_id"]: reason
                   for raw, reason in con.execute("SELECT raw, reason FROM quarantine").fetchall()}
    return stored, quarantined


def test_implausible_values_are_quarantined_with_a_reason(tmp_path):
    con = connect(tmp_path / "w.duckdb")
    report = ingest_files(con, "events", [_csv(tmp_path / "e.csv", ROWS)])
    stored, quarantined = _outcome(con)
    for e, _ts, _u, _rev, reason in ROWS:
        if reason is None:
            assert e in stored, (e, quarantined.get(e))
        else:
            assert quarantined.get(e) == reason, e
    assert report.total.read == len(ROWS) == report.total.accepted + report.total.quarantined
    assert stored["t10"] == dt.datetime(2026, 11, 1, 10) and stored["t11"] == dt.datetime(2026, 11, 1, 10)
    assert con.execute("SELECT revenue FROM events WHERE event_id = 't17'").fetchone() == (0.0,)


def test_the_ranges_are_overridable(tmp_path):
    con = connect(tmp_path / "w.duckdb")
    wide = Plausible(ts_min=dt.datetime(1900, 1, 1), ts_max=dt.datetime(2200, 1, 1), revenue_max=1e12)
    rows = [("o1", "1970-01-01T00:00:00Z", "u", "5", None), ("o2", OK, "u", "2e11", None),
            ("o3", OK, "u", "2e12", "revenue above 1,000,000,000,000"),
            ("o4", "2300-01-01T00:00:00Z", "u", "", "ts outside [1900-01-01, 2200-01-01)")]
    ingest_files(con, "events", [_csv(tmp_path / "e.csv", rows)], plausible=wide)
    stored, quarantined = _outcome(con)
    assert set(stored) == {"o1", "o2"} and quarantined == {"o3": rows[2][4], "o4": rows[3][4]}


def test_bad_ranges_are_rejected():
    with pytest.raises(ValueError, match="empty"):
        Plausible(ts_min=dt.datetime(2100, 1, 1), ts_max=dt.datetime(2000, 1, 1))
    with pytest.raises(ValueError, match="finite"):
        Plausible(revenue_max=float("inf"))


def test_nul_bytes_and_nested_ids_are_quarantined_in_every_format(tmp_path):
    con = connect(tmp_path / "w.duckdb")
    pq.write_table(pa.table({
        "event_id": ["p1", "p2"], "ts": [OK, OK],
        "user_id": pa.array([["u1"], ["u2", "u3"]], pa.list_(pa.string())),
        "item_id": ["i", "i"], "type": ["click", "click"]}), tmp_path / "list.parquet")
    pq.write_table(pa.table({
        "event_id": ["s1"], "ts": [OK], "user_id": ["u"], "type": ["click"],
        "item_id": pa.array([{"id": "i1"}], pa.struct([("id", pa.string())]))}), tmp_path / "struct.parquet")
    pq.write_table(pa.table({"event_id": ["n1", "n2"], "ts": [OK, OK], "user_id": ["u\x00x", "ok"],
                             "item_id": ["i", "i"], "type": ["click", "click"], "order_id": [None, " "]}),
                   tmp_path / "nul.parquet")
    (tmp_path / "e.jsonl").write_text("\n".join(json.dumps(r) for r in [
        {"event_id": "j1", "ts": OK, "user_id": ["u1"], "item_id": "i", "type": "click"},
        {"event_id": "j2", "ts": OK, "user_id": "u", "item_id": {"id": 1}, "type": "click"},
        {"event_id": "j3", "ts": OK, "user_id": "u\u0000", "item_id": "i", "type": "click"},
        {"event_id": "j4", "ts": OK, "user_id": "u", "item_id": "i", "type": "click"},
    ]), encoding="utf-8")
    for name in ("list.parquet", "struct.parquet", "nul.parquet", "e.jsonl"):
        ingest_files(con, "events", [tmp_path / name])
    stored = {e for (e,) in con.execute("SELECT event_id FROM events").fetchall()}
    assert stored == {"j4"}  # n2 has a blank optional order_id
    reasons = sorted(r for (r,) in con.execute("SELECT reason FROM quarantine").fetchall())
    assert reasons == sorted([
        "user_id is a list or object, not an id", "user_id is a list or object, not an id",
        "item_id is a list or object, not an id", "NUL byte in user_id", "blank order_id",
        "user_id is a list or object, not an id", "item_id is a list or object, not an id", "NUL byte in user_id"])


def test_the_cli_options_override_the_ranges_and_bad_values_are_one_line(tmp_path):
    from typer.testing import CliRunner

    from abkit.cli import app

    csv = _csv(tmp_path / "e.csv", [("c1", "1990-06-01T00:00:00Z", "u", "", None)])
    db = tmp_path / "w.duckdb"
    r = CliRunner().invoke(app, ["ingest", "events", str(csv), "--db", str(db)])
    assert r.exit_code == 0 and "1 rows quarantined" in r.output
    r = CliRunner().invoke(app, ["ingest", "events", str(csv), "--db", str(tmp_path / "w2.duckdb"),
                                 "--ts-range", "1980-01-01..2100-01-01"])
    assert r.exit_code == 0 and "rows quarantined" not in r.output, r.output
    for bad in ("2000-01-01", "2100-01-01..2000-01-01", "yesterday..today"):
        r = CliRunner().invoke(app, ["ingest", "events", str(csv), "--db", str(db), "--ts-range", bad])
        assert r.exit_code == 2 and "--ts-range" in r.stderr and r.stderr.count("\n") == 1, r.stderr

"""Ingest gives every stored row its integer user key (abkit.warehouse.add_user_keys, then the INSERT carries it)."""

from __future__ import annotations

from pathlib import Path

from abkit.warehouse import connect, user_keys_complete
from experiments.ingest.files import ingest_files


def _csv(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def _keys(con, table: str) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {}
    for user, key in con.execute(f"SELECT user_id, user_key FROM {table}").fetchall():
        out.setdefault(user, set()).add(key)
    return out


def test_ingest_keys_new_users_once_and_keeps_old_keys(tmp_path: Path) -> None:
    con = connect(tmp_path / "w.duckdb")
    x = _csv(tmp_path / "x.csv", "event_id,ts,experiment,user_id,item_id,arm",
             ["x1,2026-11-01T10:00:00Z,e,u2,i1,a", "x2,2026-11-01T10:01:00Z,e,u1,i1,a",
              "x3,2026-11-01T10:02:00Z,e,u2,i2,a", "x4,bad-time,e,u9,i2,a"])  # u9's row is quarantined
    ingest_files(con, "exposures", [x])
    first = dict(con.execute("SELECT user_id, user_key FROM user_keys").fetchall())
    assert set(first) == {"u1", "u2"}  # a quarantined row's user gets no key
    e = _csv(tmp_path / "e.csv", "event_id,ts,user_id,item_id,type",
             ["c1,2026-11-01T10:05:00Z,u2,i1,click", "c2,2026-11-01T10:06:00Z,u3,i1,click"])
    ingest_files(con, "events", [e])
    ingest_files(con, "events", [e])  # a re-sent file: no new rows, no new keys
    u = _csv(tmp_path / "u.csv", "user_id,segment", ["u3,s", "u4,s"])
    ingest_files(con, "users", [u])
    keys = dict(con.execute("SELECT user_id, user_key FROM user_keys").fetchall())
    assert {k: keys[k] for k in first} == first  # old keys never change
    assert set(keys) == {"u1", "u2", "u3", "u4"} and len(set(keys.values())) == 4  # one distinct key per id
    for table in ("exposures", "events", "users"):
        assert _keys(con, table) == {user: {keys[user]} for user in _keys(con, table)}  # every row: its id's key
    assert user_keys_complete(con)
    con.close()


def test_a_key_stored_and_twice_in_the_file_keeps_the_stored_row_and_reingest_adds_no_keys(tmp_path: Path) -> None:
    con = connect(tmp_path / "w.duckdb")
    first = _csv(tmp_path / "a.csv", "event_id,ts,user_id,item_id,type", ["s1,2026-11-01T10:00:00Z,u0,i,click"])
    ingest_files(con, "events", [first])
    f = _csv(tmp_path / "b.csv", "event_id,ts,user_id,item_id,type",
             ["s1,2026-11-01T10:01:00Z,u1,i,click",   # stored already: duplicate
              "a1,2026-11-01T10:02:00Z,u2,i,click",   # first copy of a1: wins
              "s1,2026-11-01T10:03:00Z,u3,i,click",   # stored and an in-file copy: duplicate
              "a1,not-a-time,u4,i,click",             # a bad row between the copies: quarantined, u4 unkeyed
              "a1,2026-11-01T10:04:00Z,u5,i,cart"])  # later copy of a1: duplicate
    rep = ingest_files(con, "events", [f]).total
    assert (rep.read, rep.accepted, rep.quarantined, rep.duplicates) == (5, 1, 1, 3)
    assert dict(con.execute("SELECT event_id, user_id FROM events").fetchall()) == {"s1": "u0", "a1": "u2"}
    keys = dict(con.execute("SELECT user_id, user_key FROM user_keys").fetchall())
    assert "u4" not in keys and {"u0", "u2"} <= set(keys)  # duplicates' users may be keyed; a bad row's never
    again = ingest_files(con, "events", [f, first]).total
    assert (again.accepted, again.duplicates, again.quarantined) == (0, 5, 1)
    assert dict(con.execute("SELECT user_id, user_key FROM user_keys").fetchall()) == keys  # no new keys
    assert _keys(con, "events") == {"u0": {keys["u0"]}, "u2": {keys["u2"]}}
    assert con.execute("SELECT count(*) FROM quarantine").fetchone() == (1,)
    assert user_keys_complete(con)
    con.close()

"""Results in the warehouse: stored, read back oldest first, latest full-window result and history."""

from __future__ import annotations

import datetime as dt
import json

from abkit.result import AnalysisResult
from abkit.warehouse import connect
from experiments.analysis.store import load_result, store_result, stored_results


def _result(**kw) -> AnalysisResult:
    return AnalysisResult.from_json({"experiment": "x", "control": "c", "metrics": [], **kw})


def test_store_and_load_latest_and_history(tmp_path):
    con = connect(tmp_path / "w.duckdb")
    try:
        store_result(con, _result(as_of="2026-11-02T00:00:00Z", notes=["day 1"]))
        store_result(con, _result(as_of="2026-11-03T00:00:00Z", notes=["day 2"]))
        store_result(con, _result(as_of=None, notes=["full"]))
        store_result(con, _result(as_of="2026-11-03T00:00:00Z", notes=["day 2 again"]))
        store_result(con, _result(experiment="other", as_of=None))
        con.execute("INSERT INTO results VALUES ('x', now(), NULL, '[1, 2]')")  # not a result object: skipped
        latest, history = load_result(con, "x")
        every = stored_results(con, "x")
    finally:
        con.close()
    assert len(every) == 4 and all(r.computed_at for r in every)
    assert latest is not None and latest.notes == ("full",)  # the latest full-window result wins
    assert [h.notes for h in history] == [("day 1",), ("day 2 again",)]  # one per data time, later wins


def test_stored_json_is_the_result_json(tmp_path):
    con = connect(tmp_path / "w.duckdb")
    r = _result(as_of="2026-11-02T00:00:00Z", future={"k": 1})
    try:
        store_result(con, r)
        (text, as_of), = con.execute("SELECT result, as_of FROM results").fetchall()
    finally:
        con.close()
    assert json.loads(text) == r.to_json() and as_of == dt.datetime(2026, 11, 2)


def test_no_results_table_means_nothing_stored(tmp_path):
    import duckdb

    con = duckdb.connect(str(tmp_path / "plain.duckdb"))
    try:
        assert load_result(con, "x") == (None, [])
    finally:
        con.close()

"""`abkit report` on a real warehouse file: stored results, history, health counts, one-line errors."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import abkit.cli.report  # noqa: F401  (registers the command)
from abkit.cli.app import app
from abkit.warehouse import connect
from reports import source

SPEC = str(Path(__file__).resolve().parents[2] / "experiments" / "reason_three_arm.yaml")


def _ts(s: str) -> dt.datetime:
    return dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def db(tmp_path, result, history) -> Path:
    path = tmp_path / "w.duckdb"
    con = connect(path)
    for h in history:
        con.execute("INSERT INTO results VALUES (?, ?, ?, ?)",
                    [h["experiment"], _ts(h["computed_at"]), _ts(h["as_of"]), json.dumps(h, ensure_ascii=False)])
    full = {k: v for k, v in result.items() if k not in ("daily", "as_of", "computed_at")}
    con.execute("INSERT INTO results VALUES (?, ?, NULL, ?)", [result["experiment"], _ts(result["computed_at"]),
                                                                json.dumps(full, ensure_ascii=False)])
    con.execute("INSERT INTO results VALUES ('other_exp', now(), NULL, '{\"experiment\": \"other_exp\"}')")
    con.execute("INSERT INTO quarantine VALUES ('events', 'e.csv', 3, 'x', 'unknown type', now()),"
                " ('events', 'e.csv', 4, 'y', 'negative revenue', now()), ('exposures', 'x.csv', 9, 'z', 'no ts', now())")
    # 16:30 UTC on Nov 1 is Nov 2 in Beijing; the Oct 31 exposure is before the window (Nov 1 00:00 +08 = Oct 31 16:00 UTC)
    con.execute("""INSERT INTO exposures VALUES
        ('e1', TIMESTAMP '2026-11-01 16:30:00', 'reason_three_arm', 'u1', 'i1', 'control', NULL, NULL, NULL, 'f', now()),
        ('e2', TIMESTAMP '2026-11-01 17:00:00', 'reason_three_arm', 'u1', 'i2', 'control', NULL, NULL, NULL, 'f', now()),
        ('e3', TIMESTAMP '2026-11-01 15:00:00', 'reason_three_arm', 'u2', 'i1', 'control', NULL, NULL, NULL, 'f', now()),
        ('e4', TIMESTAMP '2026-10-31 15:00:00', 'reason_three_arm', 'u3', 'i1', 'control', NULL, NULL, NULL, 'f', now()),
        ('e5', TIMESTAMP '2026-11-01 17:00:00', 'other_exp', 'u4', 'i1', 'control', NULL, NULL, NULL, 'f', now())""")
    con.close()
    return path


def test_source_reads_latest_history_health_and_daily(db):
    from abkit.spec import load_spec

    spec = load_spec(SPEC)
    con = connect(db, read_only=True)
    try:
        latest, history = source.latest_and_history(source.stored_results(con, spec.key))
        health = source.health(con, spec)
        daily = source.daily_exposures(con, spec)
    finally:
        con.close()
    assert latest["decision"]["action"] == "ship" and latest.get("as_of") is None
    assert len(history) == 14 and all(h["as_of"] for h in history)
    assert health["quarantine"] == {"events": 2, "exposures": 1}
    assert health["latest_exposure"] == "2026-11-01T17:00:00Z"
    got = {(d["date"], d["metric"]): d["value"] for d in daily}
    assert got == {("2026-11-01", "exposures"): 1, ("2026-11-01", "users"): 1,
                   ("2026-11-02", "exposures"): 2, ("2026-11-02", "users"): 1}


def test_report_command_writes_one_file(db, tmp_path):
    out = tmp_path / "r" / "report.html"
    res = CliRunner().invoke(app, ["report", SPEC, "--db", str(db), "--out", str(out), "--lang", "en"])
    assert res.exit_code == 0, res.output
    assert "decision: ship" in res.output
    page = out.read_text(encoding="utf-8")
    assert "Ship" in page and "fig-cumulative" in page and "fig-daily-exposures" in page
    assert ">3<" in page  # quarantined rows in the health grid


def test_report_from_json_without_db(tmp_path, result):
    path = tmp_path / "result.json"
    path.write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "report.html"
    res = CliRunner().invoke(app, ["report", SPEC, "--db", str(tmp_path / "none.duckdb"), "--result", str(path),
                                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "上线" in out.read_text(encoding="utf-8")


@pytest.mark.parametrize("args, message", [
    (["--lang", "fr"], "--lang must be one of zh, en"),
    (["--db", "/nonexistent/x.duckdb"], "no such database"),
])
def test_user_errors_are_one_line(tmp_path, args, message):
    res = CliRunner().invoke(app, ["report", SPEC, "--out", str(tmp_path / "r.html"), *args])
    assert res.exit_code == 2
    assert message in res.output and "Traceback" not in res.output
    assert not (tmp_path / "r.html").exists()

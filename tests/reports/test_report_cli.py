"""`abkit report` on a real warehouse file: renders the stored result without analyzing, analyzes
only when none is stored or with --refresh, renders a JSON file with no database, one-line errors."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import abkit.cli.report  # noqa: F401  (registers the command)
from abkit.cli.app import app
from abkit.warehouse import connect

ROOT = Path(__file__).resolve().parents[2]
SPEC = str(ROOT / "experiments" / "reason_three_arm.yaml")
FIXTURE = ROOT / "tests" / "experiments" / "analysis" / "fixtures"


def _ts(s: str) -> dt.datetime:
    return dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ")


def _rows(db: Path) -> int:
    con = connect(db, read_only=True)
    try:
        return int(con.execute("SELECT count(*) FROM results").fetchall()[0][0])
    finally:
        con.close()


@pytest.fixture
def db(tmp_path, result_data, history_data) -> Path:
    """Stored results only: the logs tables are empty, so any analysis would say no users."""
    path = tmp_path / "w.duckdb"
    con = connect(path)
    for h in history_data:
        con.execute("INSERT INTO results VALUES (?, ?, ?, ?)",
                    [h["experiment"], _ts(h["computed_at"]), _ts(h["as_of"]), json.dumps(h, ensure_ascii=False)])
    full = {k: v for k, v in result_data.items() if k not in ("as_of", "computed_at")}
    con.execute("INSERT INTO results VALUES (?, ?, NULL, ?)", [result_data["experiment"],
                                                                _ts(result_data["computed_at"]),
                                                                json.dumps(full, ensure_ascii=False)])
    con.execute("INSERT INTO results VALUES ('other_exp', now(), NULL, '{\"experiment\": \"other_exp\"}')")
    con.close()
    return path


def test_report_renders_the_stored_result_without_analyzing(db, tmp_path):
    before = _rows(db)
    out = tmp_path / "r" / "report.html"
    res = CliRunner().invoke(app, ["report", SPEC, "--db", str(db), "--out", str(out), "--lang", "en"])
    assert res.exit_code == 0, res.output
    assert "decision: ship" in res.output  # an analysis of the empty log tables could not ship
    assert _rows(db) == before  # nothing analyzed, nothing stored
    page = out.read_text(encoding="utf-8")
    assert "Ship" in page and "fig-cumulative" in page and "fig-daily-ctr" in page and "fig-power" in page
    assert ">3<" in page  # quarantined rows of the stored health block


def test_report_from_json_without_db(tmp_path, result_data):
    path = tmp_path / "result.json"
    path.write_text(json.dumps(result_data, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "report.html"
    missing = tmp_path / "none.duckdb"
    res = CliRunner().invoke(app, ["report", SPEC, "--db", str(missing), "--result", str(path), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "上线" in out.read_text(encoding="utf-8") and not missing.exists()


def test_analyzes_when_nothing_is_stored_and_on_refresh(tmp_path):
    sys.path.insert(0, str(FIXTURE))
    from build import SPEC as FIXTURE_SPEC
    from build import load_warehouse

    db = load_warehouse(tmp_path / "w.duckdb")
    out = tmp_path / "report.html"
    args = ["report", str(FIXTURE_SPEC), "--db", str(db), "--out", str(out), "--lang", "en"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert _rows(db) == 1 and "decision: stop" in res.output
    assert CliRunner().invoke(app, args).exit_code == 0 and _rows(db) == 1  # stored now: rendered as is
    assert CliRunner().invoke(app, [*args, "--refresh"]).exit_code == 0 and _rows(db) == 2


@pytest.mark.parametrize("args, message", [
    (["--lang", "fr"], "--lang must be one of zh, en"),
    (["--db", "/nonexistent/x.duckdb"], "no such database"),
    (["--db", "/nonexistent/x.duckdb", "--result", "/nonexistent/r.json"], "cannot read"),
])
def test_user_errors_are_one_line(tmp_path, args, message):
    res = CliRunner().invoke(app, ["report", SPEC, "--out", str(tmp_path / "r.html"), *args])
    assert res.exit_code == 2
    assert message in res.output and "Traceback" not in res.output
    assert not (tmp_path / "r.html").exists()


def test_a_result_file_that_is_not_an_object_is_a_one_line_error(tmp_path):
    bad = tmp_path / "r.json"
    bad.write_text("[1, 2]", encoding="utf-8")
    res = CliRunner().invoke(app, ["report", SPEC, "--result", str(bad), "--out", str(tmp_path / "r.html")])
    assert res.exit_code == 2 and "not an analysis result" in res.output

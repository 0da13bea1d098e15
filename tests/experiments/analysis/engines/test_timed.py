"""The one timing wrapper: every statement analyze runs (stages and blocks) is logged with its seconds."""

from __future__ import annotations

import sys
from pathlib import Path

from abkit.spec import load_spec
from abkit.warehouse import connect
from experiments.analysis.analyze import analyze

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures"


def test_query_log_holds_every_statement(tmp_path):
    sys.path.insert(0, str(FIXTURE))
    from build import SPEC, load_warehouse

    con = connect(load_warehouse(tmp_path / "w.duckdb"))
    log: list = []
    try:
        analyze(load_spec(SPEC), con, query_log=log)
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()}
    finally:
        con.close()
    names = [q.name for q, _ in log]
    for expected in ("seen_users", "per_user", "arm_counts", "arm_stats", "exposed_texts", "daily_stats",
                     "text_feature_stats", "text_samples"):
        assert expected in names, expected
    assert all(s >= 0 for _, s in log)
    assert not tables  # stages and block tables dropped

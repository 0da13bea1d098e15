"""The text blocks' Python beside the engine (experiments/analysis/text_work.py): the same blocks as each
block computes on its own, failures reported as before, the worker thread used, nothing left behind."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from abkit.result import AnalysisResult
from abkit.spec import load_spec
from abkit.warehouse import connect
from experiments.analysis import queries as q
from experiments.analysis import text_work
from experiments.analysis.analyze import analyze, clean_json
from experiments.analysis.engines import DuckDBEngine
from experiments.analysis.samples import sample_block
from experiments.analysis.stages import build_per_user
from experiments.analysis.text_behaviour import text_feature_block
from experiments.analysis.text_metrics import diversity

FIXTURE = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    """The results fixture's warehouse: 3000 users, three arms, personalized texts (several users per text)."""
    sys.path.insert(0, str(FIXTURE))
    from build import SPEC, load_warehouse

    return load_spec(SPEC), load_warehouse(tmp_path_factory.mktemp("tw") / "w.duckdb")


def _temp_tables(con) -> set[str]:
    return {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()}


def test_blocks_equal_each_block_on_its_own(warehouse):
    """The worker's diversity and feature levels, and the blocks over the summed user texts, equal the
    blocks that group the per-user rows themselves, run one after the other on the calling thread."""
    spec, db = warehouse
    con = connect(db)
    try:
        res = analyze(spec, con).to_json()
        left = _temp_tables(con)
        params = build_per_user(spec, con)
        engine, rel = DuckDBEngine(con), q.DEFAULT_RELATIONS
        alone = {"diversity": diversity(spec, engine, params, rel),
                 "text_features": text_feature_block(spec, engine, params, rel),
                 "samples": sample_block(spec, engine, params, rel)}
    finally:
        con.close()
    assert not left  # the summed user texts went with the stage tables
    expected = AnalysisResult.from_json(clean_json(alone)).to_json()
    assert expected["diversity"] and expected["text_features"] and expected["samples"]
    for name in alone:
        assert res[name] == expected[name], name


def test_the_python_runs_in_the_worker_unless_scoring_would_fork(warehouse, monkeypatch):
    spec, db = warehouse
    threads: list[str] = []
    real = text_work.feature_table

    def recorded(*args):
        threads.append(threading.current_thread().name)
        return real(*args)

    monkeypatch.setattr(text_work, "feature_table", recorded)
    con = connect(db)
    try:
        analyze(spec, con)
        monkeypatch.setattr(text_work, "PARALLEL_MIN", 1)  # as many pairs as would fork scoring processes
        analyze(spec, con)
    finally:
        con.close()
    assert threads[0].startswith("abkit-text") and threads[1] == threading.main_thread().name


def test_failures_raise_or_become_notes_as_before(warehouse, monkeypatch):
    spec, db = warehouse

    def broken(*args):
        raise RuntimeError("scoring broke")

    con = connect(db)
    try:
        monkeypatch.setattr(text_work, "feature_table", broken)
        with pytest.warns(UserWarning, match="text_features"):
            res = analyze(spec, con).to_json()
        assert "text_features" not in res and res["diversity"] and res["samples"]
        assert any("text_features block could not be computed (RuntimeError: scoring broke)" in n for n in res["notes"])
        monkeypatch.setattr(text_work, "diversity_of", broken)
        with pytest.raises(RuntimeError, match="scoring broke"):
            analyze(spec, con)
        assert not _temp_tables(con)
    finally:
        con.close()

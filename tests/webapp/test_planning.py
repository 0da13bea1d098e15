"""The calculator's adapter sizes exactly as `abkit plan` does, as MDE, weights, alpha and power change."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from abkit.spec import parse_spec
from abkit.warehouse import open_warehouse
from experiments.analysis.plan import plan
from experiments.simulate.pipeline import simulate_into
from experiments.simulate.traffic import SimOptions
from webapp.planning import plan_for

BASE = {"key": "calc", "arms": [{"name": "control", "weight": 0.5}, {"name": "treatment", "weight": 0.5}],
        "start": "2026-11-01", "end": "2026-11-15", "primary_metric": "ctr", "mde": 0.05}


@pytest.fixture(scope="module")
def history_db(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("plan") / "w.duckdb"
    with open_warehouse(db) as con, tempfile.TemporaryDirectory() as tmp:
        # history before any experiment: no texts, every arm alike (an A/A simulation on purpose)
        simulate_into(parse_spec(BASE), con, SimOptions(seed=3, days=5, mode="aa"), n_users=3000, out_dir=tmp)
    return db


@pytest.mark.parametrize("change", [
    {},
    {"mde": 0.1},
    {"alpha": 0.01, "power": 0.9},
    {"arms": [{"name": "control", "weight": 0.7}, {"name": "treatment", "weight": 0.3}]},
    {"primary_metric": "revenue_per_user", "mde": 0.2},   # a mean: variance from history
    {"primary_metric": "conversion_rate", "mde": 0.2},    # a proportion: baseline only
    {"planned_users_per_arm": 1234},
])
def test_adapter_matches_abkit_plan(history_db: Path, change: dict) -> None:
    spec = parse_spec({**BASE, **change})
    with open_warehouse(history_db, read_only=True) as con:
        expected = plan(spec, con)
    got = plan_for(spec, history_db)
    assert got.problem is None
    assert expected.users_per_arm is not None
    assert (got.users_per_arm, got.users_total, got.days) == (expected.users_per_arm, expected.users_total, expected.days)


def test_no_history_says_so(tmp_path: Path) -> None:
    got = plan_for(parse_spec(BASE), tmp_path / "none.duckdb")
    assert got.users_per_arm is None and "no database" in got.lines[0]

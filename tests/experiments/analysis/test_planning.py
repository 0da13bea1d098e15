"""The planning block: power at the spec's MDE from the CI the analysis reached, against statsmodels."""

from __future__ import annotations

import math

import pytest
from statsmodels.stats.power import NormalIndPower

from abkit.spec import parse_spec
from experiments.analysis.planning import planning_block, se_from_ci

SPEC = {"key": "p", "arms": [{"name": "c", "weight": 0.5}, {"name": "t", "weight": 0.5}],
        "start": "2026-11-01", "end": "2026-11-08", "primary_metric": "ctr", "mde": 0.04}


def _row(lo: float, hi: float, lift: float = 0.01, arm: str = "t", metric: str = "ctr", baseline: str = "c") -> dict:
    return {"metric": metric, "arm": arm, "baseline": baseline, "rel_lift": lift, "rel_ci_low": lo, "rel_ci_high": hi}


def test_power_and_users_needed_match_statsmodels():
    spec = parse_spec(SPEC)
    se, n = 0.011, 40_000
    z = 1.959963984540054
    block = planning_block(spec, [_row(0.01 - z * se, 0.01 + z * se)], {"c": n + 5, "t": n})
    assert block is not None
    (arm,) = block["arms"]
    assert arm["users_per_arm"] == n and arm["se_rel"] == pytest.approx(se, rel=1e-12)
    d = 0.04 / (se * math.sqrt(n / 2))
    assert arm["power"] == pytest.approx(NormalIndPower().power(effect_size=d, nobs1=n, alpha=0.05), rel=1e-9)
    ref_n = NormalIndPower().solve_power(effect_size=d, alpha=0.05, power=0.8)
    assert arm["users_needed"] == pytest.approx(ref_n, abs=1)


def test_power_depends_on_the_ci_width_not_the_observed_effect():
    spec = parse_spec(SPEC)
    users = {"c": 1000, "t": 1000}
    a = planning_block(spec, [_row(-0.05, 0.07, lift=0.01)], users)
    b = planning_block(spec, [_row(-0.05, 0.07, lift=-0.3)], users)
    assert a is not None and b is not None and a["arms"] == b["arms"]


def test_only_primary_rows_vs_control_with_a_ci():
    spec = parse_spec(SPEC)
    rows = [_row(-0.1, 0.1, metric="cvr"), _row(-0.1, 0.1, baseline="t", arm="c"), _row(None, None)]  # type: ignore[arg-type]
    assert planning_block(spec, rows, {"c": 10, "t": 10})["arms"] == []  # type: ignore[index]
    assert planning_block(parse_spec({**SPEC, "mde": None}), rows, {"c": 10, "t": 10}) is None
    assert se_from_ci(-1.959963984540054, 1.959963984540054, 0.05) == pytest.approx(1.0)

"""Randomization checks: SRM within dimension values and pre-period covariate balance, against scipy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from abkit.spec import parse_spec
from abkit.stats.types import SufficientStats
from experiments.analysis import queries as q
from experiments.analysis.balance import balance_block, pre_period_balance, srm_by_dimension

BASE = {"key": "b", "arms": [{"name": "c", "weight": 1}, {"name": "t", "weight": 1}],
        "start": "2026-11-01", "end": "2026-11-05", "primary_metric": "orders_per_user"}
SPEC = parse_spec(BASE)


def _frame(counts: dict[tuple[str, str], int]) -> tuple[pd.DataFrame, q.StatsLayout]:
    layout = q.stats_layout(["orders_per_user"])
    cols = list(layout.expressions)
    rows = [{"arm": a, "dim_0": v, "n": n, **{c: 0.0 for c in cols}} for (a, v), n in counts.items()]
    return pd.DataFrame(rows), layout


def test_srm_within_one_value_is_found_although_the_total_is_balanced():
    frame, layout = _frame({("c", "ios"): 1000, ("t", "ios"): 1200, ("c", "android"): 1200, ("t", "android"): 1000})
    out = srm_by_dimension(SPEC, {"platform": frame}, layout)
    rows = {r["value"]: r for r in out["platform"]}
    ref = sps.chisquare([1000, 1200]).pvalue
    assert rows["ios"]["p_value"] == pytest.approx(ref, rel=1e-9) and ref < 0.001
    assert rows["ios"]["ok"] is False and rows["android"]["ok"] is False
    frame, layout = _frame({("c", "ios"): 1000, ("t", "ios"): 1010})
    assert srm_by_dimension(SPEC, {"platform": frame}, layout)["platform"][0]["ok"] is True


def _stats(x: np.ndarray) -> SufficientStats:
    return SufficientStats(n=len(x), sum_y=0.0, sum_y2=0.0, sum_x=float(x.sum()), sum_x2=float((x * x).sum()),
                           sum_xy=0.0)


@pytest.mark.parametrize(("shift", "ok"), [(0.0, True), (0.5, False)])
def test_pre_period_means_by_arm_match_welch(shift: float, ok: bool):
    rng = np.random.default_rng(5)
    xc, xt = rng.poisson(2.0, 3000).astype(float), rng.poisson(2.0 + shift, 3000).astype(float)
    by_arm = {"c": {"orders_per_user": _stats(xc)}, "t": {"orders_per_user": _stats(xt)}}
    spec = parse_spec({**BASE, "secondary_metrics": []})
    (row,) = pre_period_balance(spec, by_arm)
    assert row["covariate"] == "pre_orders" and row["control_mean"] == pytest.approx(xc.mean())
    assert row["p_value"] == pytest.approx(sps.ttest_ind(xt, xc, equal_var=False).pvalue, rel=1e-9)
    assert row["ok"] is ok
    notes: list[str] = []
    balance_block(spec, by_arm, {}, q.stats_layout(["orders_per_user"]), notes)
    assert bool(notes) is (not ok)

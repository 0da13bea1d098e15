"""The ``balance`` block: is the randomization healthy within dimensions and before the experiment?

* SRM per dimension value: the χ² test of the overall SRM (abkit.stats.srm) on the users of each value
  of each breakdown dimension (platform, segment, ...) — a mismatch in one value only (e.g. the iOS
  client logging one arm twice) can hide in the overall count. Read off the per-(arm, value) sums the
  breakdowns already computed: no extra SQL.
* Pre-period balance: the mean of each CUPED covariate (the user's pre-period clicks, orders,
  revenue) by arm, each treatment arm against control with Welch's t-test (scipy). Randomization
  makes the arms equal before the experiment, so a significant difference means assignment was not
  random or the pre-period is contaminated; CUPED then adjusts for a real pre-existing gap.

Both flag at p < 0.001 (the SRM threshold): these are checks of the machinery, run on many cells,
where a 5% threshold would cry wolf.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from scipy.stats import ttest_ind_from_stats

from abkit.metrics import METRICS
from abkit.spec import Spec
from abkit.stats.srm import srm_test
from abkit.stats.types import SufficientStats
from experiments.analysis import queries as q
from experiments.analysis.rows import ArmStats, stats_by_key

THRESHOLD = 0.001


def srm_by_dimension(spec: Spec, frames: dict[str, pd.DataFrame], layout: q.StatsLayout) -> dict[str, list[dict[str, Any]]]:
    """{dimension: [{value, users {arm: n}, p_value, ok}]} for values with users in at least one arm."""
    out: dict[str, list[dict[str, Any]]] = {}
    metric = spec.primary_metric
    for i, (name, frame) in enumerate(frames.items()):
        stats = stats_by_key(frame, layout, ["arm", f"dim_{i}"])
        values = sorted({k[1] for k in stats if k[0] in spec.arm_names}, key=lambda v: (v is None, str(v)))
        rows = []
        for v in values:
            users = {a: stats[(a, v)][metric].n if (a, v) in stats else 0 for a in spec.arm_names}
            if sum(users.values()) == 0:
                continue
            srm = srm_test(list(users.values()), spec.weights, THRESHOLD)
            rows.append({"value": v, "users": users, "p_value": srm.p_value, "ok": srm.ok})
        out[name] = rows
    return out


def _moments(s: SufficientStats) -> tuple[float, float] | None:
    if s.sum_x is None or s.sum_x2 is None or s.n < 2:
        return None
    mean = s.sum_x / s.n
    return mean, max((s.sum_x2 - s.n * mean * mean) / (s.n - 1), 0.0)


def pre_period_balance(spec: Spec, by_arm: ArmStats) -> list[dict[str, Any]]:
    """One row per (covariate, treatment arm): the means by arm, Welch's p and ``ok``."""
    rows = []
    seen: set[str] = set()
    for metric in spec.all_metrics:
        cov = METRICS[metric].covariate
        if cov is None or cov in seen or metric not in by_arm[spec.control_arm]:
            continue
        seen.add(cov)
        c = _moments(by_arm[spec.control_arm][metric])
        for arm in spec.treatment_arms:
            t = _moments(by_arm[arm][metric])
            if c is None or t is None:
                continue
            nc, nt = by_arm[spec.control_arm][metric].n, by_arm[arm][metric].n
            if c[1] == 0 and t[1] == 0:
                p = 1.0 if c[0] == t[0] else 0.0
            else:
                p = float(ttest_ind_from_stats(t[0], t[1] ** 0.5, nt, c[0], c[1] ** 0.5, nc, equal_var=False).pvalue)
            rows.append({"covariate": cov, "metric": metric, "arm": arm, "baseline": spec.control_arm,
                         "control_mean": c[0], "treatment_mean": t[0], "p_value": p, "ok": p >= THRESHOLD})
    return rows


def balance_block(spec: Spec, by_arm: ArmStats, frames: dict[str, pd.DataFrame], layout: q.StatsLayout,
                  notes: list[str]) -> dict[str, Any]:
    """{"srm_by_dimension": ..., "pre_period": ...}; a note for each failed check."""
    by_dim = srm_by_dimension(spec, frames, layout)
    pre = pre_period_balance(spec, by_arm)
    for dim, rows in by_dim.items():
        for r in rows:
            if not r["ok"]:
                notes.append(f"Sample ratio mismatch within {dim} = {r['value']} (p = {r['p_value']:.2g}).")
    for r in pre:
        if not r["ok"]:
            notes.append(f"Pre-period imbalance of {r['covariate']} in arm {r['arm']} (p = {r['p_value']:.2g}).")
    return {"threshold": THRESHOLD, "srm_by_dimension": by_dim, "pre_period": pre}

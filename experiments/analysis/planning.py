"""The planned sample in the analysis: one number (abkit.planning) for the decision, the ``planning``
block, the report and N* of the sequential test.

`experiment_plan` sizes the spec from the history before its start (experiments/analysis/plan.py,
the same function `abkit plan` uses), so analyze and `abkit plan` agree on the same warehouse; a
spec's `planned_users_per_arm` wins over both. The ``planning`` block reports, per treatment arm,
the users reached (the smaller of the arm and control), the planned users (``users_needed``, the
same number everywhere), the users and days still to go, and the power at the MDE with the users
reached under the plan's own assumptions (alpha split, CUPED, sequential critical value) — so the
power section and the next step can never disagree. Without a plan (no history), the power comes
from the standard error reached instead (``se_rel``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scipy.stats import norm

from abkit.errors import AbkitError
from abkit.planning import SamplePlan, planned_users_per_arm
from abkit.spec import Spec
from abkit.stats.growth import days_needed
from abkit.stats.power import power_at
from experiments.analysis import queries as q
from experiments.analysis.engines.base import Engine
from experiments.analysis.plan import plan_history, sample_plan
from experiments.analysis.rows import Row


@dataclass(frozen=True)
class ExperimentPlan:
    planned: int | None  # users per arm
    source: str
    plan: SamplePlan | None = None
    warning: str | None = None


def experiment_plan(spec: Spec, engine: Engine, rel: q.Relations = q.DEFAULT_RELATIONS) -> ExperimentPlan:
    """The spec's `planned_users_per_arm`, else abkit.planning's plan from the history before the start."""
    if spec.planned_users_per_arm is not None:
        return ExperimentPlan(spec.planned_users_per_arm, "spec planned_users_per_arm")
    if spec.mde is None:
        return ExperimentPlan(None, "no mde or planned_users_per_arm in the spec")
    try:
        hist = plan_history(spec, engine, rel=rel)
    except Exception as exc:  # e.g. an engine without a reasons relation: the analysis goes on unplanned
        return ExperimentPlan(None, f"history could not be read ({type(exc).__name__}: {exc})")
    try:
        plan = sample_plan(spec, hist)
    except AbkitError as exc:  # a history that cannot size the test
        return ExperimentPlan(None, f"cannot size the test: {exc}", None, hist.warning)
    if plan is None:
        return ExperimentPlan(None, hist.label, None, hist.warning)
    return ExperimentPlan(planned_users_per_arm(spec, plan), f"abkit.planning from {hist.label}", plan,
                          hist.warning)


def days_to_go(spec: Spec, daily: Sequence[Mapping[str, Any]], planned: int | None) -> dict[str, int | None]:
    """Per treatment arm: days until the smaller of (arm, control) reaches `planned` users, from the growth
    of cumulative unique users by day (the daily block's ``new_users``); 0 once reached; None when unknown."""
    if planned is None:
        return {}
    cum: dict[str, dict[str, int]] = {}
    for r in daily:
        if r.get("metric") == "new_users" and r.get("cumulative") is not None:
            cum.setdefault(r["arm"], {})[r["date"]] = int(r["cumulative"])
    out: dict[str, int | None] = {}
    control = cum.get(spec.control_arm, {})
    for arm in spec.treatment_arms:
        mine = cum.get(arm, {})
        days = sorted(set(mine) | set(control))
        series, last_a, last_c = [], 0, 0
        for d in days:
            last_a, last_c = mine.get(d, last_a), control.get(d, last_c)
            series.append(min(last_a, last_c))
        if not series:
            out[arm] = None
            continue
        needed = days_needed(series, planned)
        out[arm] = None if needed is None else max(needed - len(series), 0)
    return out


def se_from_ci(low: float, high: float, alpha: float) -> float:
    """The standard error behind a two-sided normal CI at level 1 − alpha."""
    return float((high - low) / (2 * norm.ppf(1 - alpha / 2)))


def planning_block(spec: Spec, rows: list[Row], users: Mapping[str, int], plan: ExperimentPlan,
                   days: Mapping[str, int | None]) -> dict[str, Any] | None:
    """Per treatment arm vs control on the primary metric; None when the spec has no MDE."""
    if spec.mde is None:
        return None
    control = spec.control_arm
    planned = plan.planned
    arms = []
    for r in rows:
        if r["metric"] != spec.primary_metric or r["baseline"] != control:
            continue
        n = min(int(users.get(r["arm"], 0)), int(users.get(control, 0)))
        lo, hi = r["rel_ci_low"], r["rel_ci_high"]
        se = (se_from_ci(lo, hi, spec.alpha) if lo is not None and hi is not None
              and math.isfinite(lo) and math.isfinite(hi) and hi > lo else None)
        if plan.plan is not None:
            power = plan.plan.power_at(n)
        elif se is not None and n > 0:
            power = power_at(n, "mean", 1.0, spec.mde, alpha=spec.alpha, variance=se * se * n / 2)
        else:
            power = None
        arms.append({"arm": r["arm"], "users_per_arm": n, "se_rel": se, "power": power,
                     "users_needed": planned, "users_to_go": None if planned is None else max(planned - n, 0),
                     "days_to_go": days.get(r["arm"]) if planned is not None and n < planned else
                     (0 if planned is not None else None)})
    return {"metric": spec.primary_metric, "mde": spec.mde, "alpha": spec.alpha, "power": spec.power,
            "planned_users_per_arm": planned, "source": plan.source, "warning": plan.warning,
            "plan": None if plan.plan is None else plan.plan.to_dict(), "arms": arms}

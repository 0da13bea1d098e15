"""The power and duration calculator behind the form: ONE adapter over the project's planning function.

Today it calls experiments.analysis.plan.plan (abkit.stats.power on the warehouse's history).
The history (baseline, per-user variance, growth of unique users) is what is slow to get and
does not change while a PM edits MDE, weights, alpha or power, so it is kept per warehouse
version; the sizing is then redone with the same public functions `plan` uses. Switching to
another planning function means changing this module only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from abkit.errors import AbkitError
from abkit.metrics import METRICS
from abkit.spec import Spec
from abkit.stats.power import days_needed, sample_size_per_arm
from webapp.store import Memo, reading, version

# Spec keys the history depends on (not MDE, alpha, power, weights or the texts).
_HISTORY_KEYS = {"key", "primary_metric", "start", "end", "timezone", "click_window", "order_window",
                 "cuped_lookback", "max_exposures_per_user", "winsorize", "coverage"}
_memo = Memo(16)


@dataclass
class PlanView:
    users_per_arm: int | None = None
    users_total: int | None = None
    days: int | None = None
    window_days: int | None = None
    baseline: float | None = None
    history: str = ""
    problem: str | None = None
    lines: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _History:
    kind: str
    baseline: float | None
    variance: float | None
    cumulative: tuple[int, ...]
    label: str
    problem: str | None = None


def _history(spec: Spec, db: Path) -> _History:
    from experiments.analysis.plan import plan

    probe = spec.model_copy(update={"mde": spec.mde or 0.05, "planned_users_per_arm": None})
    try:
        with reading(db) as con:
            p = plan(probe, con)
    except AbkitError as exc:
        return _History(METRICS[spec.primary_metric].kind, None, None, (), "", str(exc))
    return _History(p.kind, p.baseline, p.variance, tuple(p.cumulative_users), p.history)


def plan_for(spec: Spec, db: Path) -> PlanView:
    """Users per arm, total and days needed for the spec's MDE, weights and arms."""
    key = (version(db), spec.model_dump_json(include=_HISTORY_KEYS), tuple(spec.arm_names))
    h = _memo.get(key, lambda: _history(spec, db))
    view = PlanView(window_days=(spec.end - spec.start).days, baseline=h.baseline, history=h.label,
                    problem=h.problem)
    if h.problem:
        return view
    if spec.planned_users_per_arm is not None:
        view.users_per_arm = spec.planned_users_per_arm
    elif spec.mde is not None and h.baseline is not None:
        try:
            n = sample_size_per_arm(h.kind, h.baseline, spec.mde, alpha=spec.alpha, power=spec.power,
                                    variance=None if h.kind == "proportion" else h.variance)
        except ValueError as exc:
            view.problem = f"cannot size {spec.primary_metric}: {exc}"
            return view
        view.users_per_arm = int(math.ceil(n))
    if view.users_per_arm is not None:
        view.users_total = int(math.ceil(view.users_per_arm / min(spec.weights) / spec.coverage))
        if h.cumulative:
            view.days = days_needed(list(h.cumulative), view.users_total)
    view.lines = [f"primary metric {spec.primary_metric} ({h.kind}); history: {h.label}"]
    if h.baseline is not None:
        var = f", per-user variance {h.variance:.4g}" if h.variance is not None else ""
        view.lines.append(f"baseline {h.baseline:.4g}{var}")
    return view

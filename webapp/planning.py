"""The power and duration calculator behind the form: ONE adapter over the project's planning function.

Today it calls experiments.analysis.plan.plan (abkit.stats.power.sample_size_per_arm on the
warehouse's history); switching to another planning function means changing `plan_for` only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from abkit.errors import AbkitError
from abkit.spec import Spec
from webapp.store import reading


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


def plan_for(spec: Spec, db: Path) -> PlanView:
    """Users per arm, total and days needed for the spec's MDE, weights and arms."""
    from experiments.analysis.plan import plan

    view = PlanView(window_days=(spec.end - spec.start).days)
    try:
        with reading(db) as con:
            p = plan(spec, con)
    except AbkitError as exc:
        view.problem = str(exc)
        return view
    view.users_per_arm, view.users_total, view.days = p.users_per_arm, p.users_total, p.days
    view.baseline, view.history, view.lines = p.baseline, p.history, p.lines()
    return view

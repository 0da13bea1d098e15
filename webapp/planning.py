"""The power and duration calculator behind the form: ONE adapter over the project's planning function.

It calls experiments.analysis.plan (the one sample size of abkit.planning, sized from the
warehouse's history), as `abkit plan` does. The history (baseline, per-user variance, the growth
of unique users) is what is slow to get and does not change while a PM edits MDE, weights,
alpha or power, so it is kept per warehouse version; the sizing is then redone from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from abkit.errors import AbkitError
from abkit.spec import Spec
from webapp.store import Memo, reading, version

if TYPE_CHECKING:  # the analysis package loads on first use
    from experiments.analysis.plan import History

# Spec keys the history depends on (not MDE, alpha, power, weights or the texts).
_HISTORY_KEYS = {"key", "primary_metric", "start", "end", "timezone", "click_window", "order_window",
                 "cuped_lookback", "cuped", "max_exposures_per_user", "winsorize", "coverage"}
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


def _history(spec: Spec, db: Path) -> History:
    from experiments.analysis.plan import History, plan_history

    with reading(db) as con:
        return History(None, [], "no database") if con is None else plan_history(spec, con)


def plan_for(spec: Spec, db: Path) -> PlanView:
    """Users per arm, total and days needed for the spec's MDE, weights and arms (as `abkit plan`)."""
    from experiments.analysis.plan import plan_from_history

    key = (version(db), spec.model_dump_json(include=_HISTORY_KEYS), tuple(spec.arm_names))
    view = PlanView(window_days=(spec.end - spec.start).days)
    try:
        hist = _memo.get(key, lambda: _history(spec, db))
        p = plan_from_history(spec, hist)
    except AbkitError as exc:
        view.problem = str(exc)
        return view
    view.users_per_arm, view.users_total, view.days = p.users_per_arm, p.users_total, p.days
    view.baseline, view.history, view.lines = p.baseline, p.history, p.lines()
    return view

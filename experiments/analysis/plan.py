"""`abkit plan`: users per arm and days needed for a spec's MDE and power — the one sample size.

The number itself comes from abkit.planning (`plan_for_spec`: alpha split across treatment arms,
the CUPED variance reduction, the sequential inflation); `analyze`, the report and the demo use the
same function on the same history, so every place shows the same planned users per arm.

History (`plan_history`) is the experiment's targeted population over the `history_days` before the
start, computed with the analysis' own attribution SQL on any engine:
1. exposures of the items the experiment has reasons for (its candidate items), all arms pooled;
2. with none, all exposures of those days — with a warning: a different population;
3. with none, the experiment's own window so far (arms pooled) — with a warning.
Coverage and namespace are random hash subsets of that population: they change how many users
arrive, not the baseline or variance, so they scale the users to reach (total ÷ enrolled share),
not the statistics. Days needed follow the growth of cumulative unique triggered users
(returning users are not new), not users ÷ daily traffic (abkit.stats.growth.days_needed).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from dataclasses import dataclass, field

import duckdb

from abkit.errors import AbkitError
from abkit.metrics import METRICS
from abkit.planning import SamplePlan, plan_for_spec, planned_users_per_arm
from abkit.spec import Spec
from abkit.stats.power import days_needed, historical_baseline_and_variance
from abkit.stats.types import SufficientStats
from experiments.analysis import queries as q
from experiments.analysis.engines.base import Engine
from experiments.analysis.engines.duckdb_engine import as_engine

HISTORY_DAYS = 28


@dataclass(frozen=True)
class History:
    """The primary metric's sufficient statistics before the start and the growth of unique users."""

    stats: SufficientStats | None
    cumulative_users: list[int]  # unique triggered users by day
    label: str
    warning: str | None = None


def enrolled_share(spec: Spec) -> float:
    """The share of the population the experiment enrols: coverage × the namespace's width."""
    ns = spec.namespace
    width = 1.0 if ns is None else ns.range[1] - ns.range[0]
    return spec.coverage * width


def plan_history(spec: Spec, con: duckdb.DuckDBPyConnection | Engine, history_days: int = HISTORY_DAYS,
                 rel: q.Relations = q.DEFAULT_RELATIONS) -> History:
    """Steps 1–3 of the module docstring, on a DuckDB connection or any Engine."""
    engine = as_engine(con)
    start, _ = spec.window_utc()
    prel = dataclasses.replace(rel, seen="abkit_plan_seen", per_user="abkit_plan_per_user")
    base = q.QueryParams.from_spec(spec)
    before = dataclasses.replace(base, experiment=None, window_start=start - dt.timedelta(days=history_days),
                                 window_end=start, pool_arms=True, max_exposures=None)
    attempts = [
        (dataclasses.replace(before, items_of=spec.key),
         f"exposures of the experiment's candidate items in the {history_days} days before the start", None),
        (before, f"all exposures of the {history_days} days before the start",
         "No history of the experiment's candidate items: sized from all traffic before the start, "
         "a different population."),
        (dataclasses.replace(base, pool_arms=True), "this experiment's own window so far (arms pooled)",
         "No history before the start: sized from the experiment's own data so far, which changes as it grows."),
    ]
    layout = q.stats_layout([spec.primary_metric])
    try:
        for params, label, warning in attempts:
            engine.materialize(q.seen_users(params, prel), prel.seen)
            engine.materialize(q.per_user(params, prel), prel.per_user)
            rows = engine.frame(q.arm_stats(layout, rel=prel))
            if rows.empty or int(rows["n"].iloc[0]) < 2:
                continue
            rec = rows.iloc[0]
            stats = SufficientStats(n=int(rec["n"]), **{f: float(rec[a] or 0.0) for f, a in
                                                         layout.fields[spec.primary_metric].items()})
            hourly = engine.frame(q.Query("plan_hourly", f"SELECT date_trunc('hour', first_exposure) AS h, "
                                                         f"count(*) AS n FROM {prel.per_user} GROUP BY 1"))
            day = ((hourly["h"] - params.window_start) // dt.timedelta(days=1)).astype(int)
            per_day = hourly.groupby(day)["n"].sum().reindex(range(int(day.max()) + 1), fill_value=0)
            return History(stats, [int(v) for v in per_day.cumsum()], label, warning)
    finally:
        for name in (prel.per_user, prel.seen):
            engine.drop(name)
    return History(None, [], "no historical exposures found",
                   "No exposures found to size the experiment from.")


@dataclass
class Plan:
    metric: str
    kind: str
    mde: float | None
    alpha: float
    power: float
    users_per_arm: int | None
    users_total: int | None
    days: int | None
    baseline: float | None = None
    variance: float | None = None
    history: str = ""
    cumulative_users: list[int] = field(default_factory=list)
    formula: str = ""
    warning: str | None = None
    sample_plan: SamplePlan | None = None

    def lines(self) -> list[str]:
        out = [f"primary metric {self.metric} ({self.kind}); history: {self.history}"]
        if self.warning:
            out.append(f"warning: {self.warning}")
        if self.baseline is not None:
            var = f", per-user variance {self.variance:.4g}" if self.variance is not None else ""
            out.append(f"baseline {self.baseline:.4g}{var}")
        if self.formula:
            out.append(f"formula: {self.formula}")
        if self.users_per_arm is None:
            out.append("users per arm: unknown (set mde, or planned_users_per_arm, and give --db with history)")
            return out
        out.append(f"users per arm: {self.users_per_arm:,} (total {self.users_total:,} at the spec's weights and coverage)")
        if self.days is not None:
            out.append(f"days needed: {self.days} (from the growth of cumulative unique triggered users)")
        elif self.cumulative_users:
            out.append(f"days needed: more than a year at the observed growth "
                       f"({self.cumulative_users[-1]:,} unique users in {len(self.cumulative_users)} days)")
        else:
            out.append("days needed: unknown (no historical exposures)")
        return out


def sample_plan(spec: Spec, history: History) -> SamplePlan | None:
    """abkit.planning's plan of the spec from the history (None without mde or history)."""
    if spec.mde is None or history.stats is None:
        return None
    try:
        return plan_for_spec(spec, history.stats)
    except ValueError as exc:
        raise AbkitError(f"cannot size {spec.primary_metric}: {exc}") from None


def plan(spec: Spec, con: duckdb.DuckDBPyConnection | Engine | None, *, history_days: int = HISTORY_DAYS) -> Plan:
    """Size the experiment; raises AbkitError when nothing can be sized."""
    hist = plan_history(spec, con, history_days) if con is not None else History(None, [], "no database")
    return plan_from_history(spec, hist)


def plan_from_history(spec: Spec, hist: History) -> Plan:
    """The plan of ``spec`` from an already computed history (the slow part, which callers such as
    the web app's calculator keep while MDE, alpha, power or weights change)."""
    m = METRICS[spec.primary_metric]
    out = Plan(spec.primary_metric, m.kind, spec.mde, spec.alpha, spec.power, None, None, None,
               history=hist.label, cumulative_users=hist.cumulative_users, warning=hist.warning)
    if hist.stats is not None:
        try:
            out.baseline, out.variance = historical_baseline_and_variance(hist.stats)
        except ValueError:
            pass
    if spec.mde is None and spec.planned_users_per_arm is None:
        raise AbkitError(f"{spec.key}: set mde (relative) or planned_users_per_arm in the spec to plan")
    out.sample_plan = sample_plan(spec, hist) if spec.planned_users_per_arm is None else None
    out.users_per_arm = planned_users_per_arm(spec, out.sample_plan)
    if spec.planned_users_per_arm is not None:
        out.formula = "planned_users_per_arm from the spec"
    elif out.sample_plan is not None:
        out.formula = out.sample_plan.text
    if out.users_per_arm is not None:
        out.users_total = math.ceil(out.users_per_arm / min(spec.weights) / enrolled_share(spec) - 1e-9)
        if hist.cumulative_users:
            out.days = days_needed(hist.cumulative_users, out.users_total)
    return out

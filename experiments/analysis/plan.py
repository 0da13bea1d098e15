"""`abkit plan`: users per arm and days needed for a spec's MDE and power.

The baseline and per-user variance of the primary metric come from historical logs, computed
with the same attribution SQL as the analysis (all exposures of the `history_days` before the
start, every experiment pooled as one arm); if there are none, from the experiment's own
window so far. Days needed follow the growth of cumulative unique triggered users (returning
users are not new), not users ÷ daily traffic (abkit.stats.power.days_needed).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from dataclasses import dataclass, field

import duckdb

from abkit.errors import AbkitError
from abkit.metrics import METRICS
from abkit.spec import Spec
from abkit.stats.power import days_needed, historical_baseline_and_variance, sample_size_per_arm
from abkit.stats.types import SufficientStats
from experiments.analysis import queries as q


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

    def lines(self) -> list[str]:
        out = [f"primary metric {self.metric} ({self.kind}); history: {self.history}"]
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


def _history(spec: Spec, con: duckdb.DuckDBPyConnection, history_days: int
             ) -> tuple[SufficientStats | None, list[int], str]:
    start, end = spec.window_utc()
    rel = q.Relations(seen="abkit_plan_seen", per_user="abkit_plan_per_user")
    base = q.QueryParams.from_spec(spec)
    attempts = [
        (dataclasses.replace(base, experiment=None, window_start=start - dt.timedelta(days=history_days),
                             window_end=start, pool_arms=True, max_exposures=None),
         f"all exposures of the {history_days} days before the start"),
        (dataclasses.replace(base, pool_arms=True), "this experiment's own window so far (arms pooled)"),
    ]
    layout = q.stats_layout([spec.primary_metric])
    try:
        for params, label in attempts:
            for query, name in ((q.seen_users(params, rel), rel.seen), (q.per_user(params, rel), rel.per_user)):
                con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {query.sql}", query.params)
            stats_q = q.arm_stats(layout, rel=rel)
            rows = con.execute(stats_q.sql, stats_q.params).df()
            if rows.empty or int(rows["n"].iloc[0]) < 2:
                continue
            rec = rows.iloc[0]
            stats = SufficientStats(n=int(rec["n"]), **{f: float(rec[a]) for f, a in
                                                         layout.fields[spec.primary_metric].items()})
            hourly = con.execute(
                f"SELECT date_trunc('hour', first_exposure) AS h, count(*) AS n FROM {rel.per_user} GROUP BY 1"
            ).df()
            day = ((hourly["h"] - params.window_start) // dt.timedelta(days=1)).astype(int)
            per_day = hourly.groupby(day)["n"].sum().reindex(range(int(day.max()) + 1), fill_value=0)
            return stats, [int(v) for v in per_day.cumsum()], label
    finally:
        for name in (rel.per_user, rel.seen):
            con.execute(f"DROP TABLE IF EXISTS {name}")
    return None, [], "no historical exposures found"


def plan(spec: Spec, con: duckdb.DuckDBPyConnection | None, *, history_days: int = 28) -> Plan:
    """Size the experiment; raises AbkitError when nothing can be sized."""
    m = METRICS[spec.primary_metric]
    stats, cumulative, label = _history(spec, con, history_days) if con is not None else (None, [], "no database")
    out = Plan(spec.primary_metric, m.kind, spec.mde, spec.alpha, spec.power, None, None, None,
               history=label, cumulative_users=cumulative)
    if stats is not None:
        try:
            out.baseline, out.variance = historical_baseline_and_variance(stats)
        except ValueError:
            pass
    if spec.planned_users_per_arm is not None:
        out.users_per_arm = spec.planned_users_per_arm
        out.formula = "planned_users_per_arm from the spec"
    elif spec.mde is not None and stats is not None:
        try:
            n = sample_size_per_arm(m.kind, None, spec.mde, alpha=spec.alpha, power=spec.power, historical=stats)
        except ValueError as exc:
            raise AbkitError(f"cannot size {spec.primary_metric}: {exc}") from None
        out.users_per_arm = int(math.ceil(n))
        out.formula = ("two-sample normal approximation, two-sided; "
                       + ("variance under H0 at the baseline rate (Evan Miller)" if m.kind == "proportion"
                          else "n = (z_(1-a/2) + z_power)^2 * 2 * var / (baseline * mde)^2"))
    elif spec.mde is None and spec.planned_users_per_arm is None:
        raise AbkitError(f"{spec.key}: set mde (relative) or planned_users_per_arm in the spec to plan")
    if out.users_per_arm is not None:
        out.users_total = int(math.ceil(out.users_per_arm / min(spec.weights) / spec.coverage))
        if cumulative:
            out.days = days_needed(cumulative, out.users_total)
    return out

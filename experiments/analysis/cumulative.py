"""The ``cumulative`` block: the primary metric's lift over time, computed from the data in one pass.

GrowthBook's "cumulative" time series: for each day d (of the spec's time zone) the users first
exposed on or before d, with their metric values as the analysis counts them. One query returns
each arm's sufficient statistics per first-exposure day (arm_stats.sql grouped by that day);
because sufficient statistics add up, running sums over the days give every day's comparison
without re-running the SQL. It does not depend on stored snapshots, so the chart has one point per
day even when every log was ingested after the window closed; with ``--as-of`` it covers what was
known then (ingestion time), like the rest of the analysis.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd

from abkit.metrics import METRICS
from abkit.spec import Spec
from abkit.stats.compare import compare
from abkit.stats.sequential import sequential
from abkit.stats.significance import significance
from abkit.stats.types import SufficientStats
from experiments.analysis import queries as q
from experiments.analysis.block_sql import local_ts
from experiments.analysis.engines.base import Engine
from experiments.analysis.rows import stats_by_key


def stats_by_day_query(spec: Spec, layout: q.StatsLayout, rel: q.Relations, engine: str) -> q.Query:
    """arm_stats.sql per (arm, local day of the user's first exposure). The local time costs a
    time-zone conversion per row, so the users are summed per UTC minute of their first exposure
    first (a local day starts on a whole UTC minute, as in daily_stats.sql) and each minute is
    converted once; sufficient statistics add up, so the day's sums are the same."""
    minutes = q.arm_stats(layout, rel=rel, by_day="date_trunc('minute', u.first_exposure)")
    sums = "".join(f",\n    sum({alias}) AS {alias}" for alias in layout.expressions)
    day = f"CAST({local_ts('m.first_day', engine)} AS DATE)"
    sql = (f"SELECT arm, day AS first_day, CAST(sum(n) AS BIGINT) AS n, sum(open_window_users) AS open_window_users{sums}\n"
           f"FROM (\n    SELECT m.*, {day} AS day\n    FROM (\n{minutes.sql.strip()}\n    ) m\n) d\n"
           "GROUP BY arm, day")
    return q._bind("arm_stats_by_day", sql, {**minutes.params, "timezone": spec.timezone})


def _add(a: SufficientStats, b: SufficientStats) -> SufficientStats:
    fields = {f.name: getattr(a, f.name) for f in dataclasses.fields(a)}
    out: dict[str, Any] = {}
    for name, va in fields.items():
        vb = getattr(b, name)
        out[name] = None if va is None and vb is None else (va or 0) + (vb or 0)
    return SufficientStats(**out)


def cumulative_block(spec: Spec, engine: Engine, params: q.QueryParams, rel: q.Relations,
                     tuning_n: float | None = None) -> list[dict[str, Any]]:
    """[{date, arm, baseline, metric, users, rel_lift, rel_ci_low, rel_ci_high, p_value, significance,
    seq_rel_ci_low, seq_rel_ci_high}] per day with a new user, each treatment arm against control."""
    metric = spec.primary_metric
    layout = q.stats_layout([metric])
    frame = engine.frame(stats_by_day_query(spec, layout, rel, engine.name))
    if frame.empty:
        return []
    frame["first_day"] = pd.to_datetime(frame["first_day"]).dt.strftime("%Y-%m-%d")
    stats = stats_by_key(frame, layout, ["arm", "first_day"])
    days = sorted({k[1] for k in stats if k[1] is not None})
    m = METRICS[metric]
    running: dict[str, SufficientStats | None] = {a: None for a in spec.arm_names}
    rows: list[dict[str, Any]] = []
    for day in days:
        for a in spec.arm_names:
            s = stats.get((a, day), {}).get(metric)
            if s is not None:
                prev = running[a]
                running[a] = s if prev is None else _add(prev, s)
        c = running[spec.control_arm]
        for arm in spec.treatment_arms:
            t = running[arm]
            if c is None or t is None:
                continue
            r = compare(c, t, alpha=spec.alpha, cuped=spec.cuped and m.covariate is not None, kind=m.kind)
            row: dict[str, Any] = {
                "date": day, "arm": arm, "baseline": spec.control_arm, "metric": metric,
                "users": {spec.control_arm: c.n, arm: t.n}, "rel_lift": r.rel_lift,
                "rel_ci_low": r.rel_ci_low, "rel_ci_high": r.rel_ci_high, "p_value": r.p_value,
                "small_sample": r.small_sample,
                "significance": significance(r.p_value, r.abs_lift, spec.alpha, higher_is_better=m.higher_is_better,
                                             small_sample=r.small_sample),
            }
            if spec.sequential.enabled:
                sq = sequential(r, c.n + t.n, tuning_n=tuning_n, alpha=spec.alpha)
                row.update(seq_rel_ci_low=sq.seq_rel_ci_low, seq_rel_ci_high=sq.seq_rel_ci_high,
                           seq_p_value=sq.seq_p_value,
                           significance=significance(sq.seq_p_value, r.abs_lift, spec.alpha,
                                                     higher_is_better=m.higher_is_better,
                                                     small_sample=r.small_sample))
            rows.append(row)
    return rows

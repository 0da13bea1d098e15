"""Daily metric trends per arm, by day of the spec's time zone (novelty effects show here).

Per arm and local day (daily_stats.sql): users first triggered that day, exposures, and the
attributed clicks and orders of the exposures shown that day (an event counts on the day of
the exposure that anchors it, the latest one of the same item before it, so a click at 00:10
on an exposure at 23:55 stays with the 23:55 day's CTR), plus running totals. Days are the
date of the UTC ts converted to the spec's zone: in Asia/Shanghai 2026-11-01T15:59Z is
2026-11-01 and 16:00Z is 2026-11-02.

The block is long-format, as reports/build.py reads it: one row per (date, arm, metric) with
``value`` for the day and ``cumulative`` for the running value up to and including it.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from abkit.spec import Spec
from experiments.analysis import queries as q
from experiments.analysis.block_sql import block_query
from experiments.analysis.engines.base import Engine

# metric -> (daily numerator, daily denominator or None); CTR first (the usual primary metric).
DAILY_METRICS: dict[str, tuple[str, str | None]] = {
    "ctr": ("clicks", "exposures"),
    "new_users": ("new_users", None),
    "exposures": ("exposures", None),
    "clicks": ("clicks", None),
    "orders": ("orders", None),
}


def daily_frame(spec: Spec, engine: Engine, params: q.QueryParams, rel: q.Relations = q.DEFAULT_RELATIONS) -> pd.DataFrame:
    """Per (arm, day): new_users, exposures, clicks, orders and their cum_* running totals.

    Needs the per-user table ``rel.per_user`` (experiments/analysis/stages.py)."""
    query = block_query("daily_stats", params, rel, values={"timezone": spec.timezone}, engine=engine.name)
    return engine.frame(query)


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    return (num / den.where(den > 0)).astype(object).where(den > 0, None)


def daily_rows(frame: pd.DataFrame, arms: list[str]) -> list[dict[str, Any]]:
    """The ``daily`` block: [{"date", "arm", "metric", "value", "cumulative", ...counts}]."""
    if frame.empty:
        return []
    f = frame[frame["arm"].isin(arms)].copy()
    f["date"] = pd.to_datetime(f["day"]).dt.strftime("%Y-%m-%d")
    f["arm_pos"] = f["arm"].map({a: i for i, a in enumerate(arms)})
    f = f.sort_values(["arm_pos", "date"])
    rows: list[dict[str, Any]] = []
    for metric, (num, den) in DAILY_METRICS.items():
        part = f[["date", "arm"]].assign(metric=metric)
        if den is None:
            part["value"] = f[num].astype("int64")
            part["cumulative"] = f[f"cum_{num}"].astype("int64")
        else:
            part["value"] = _ratio(f[num], f[den])
            part["cumulative"] = _ratio(f[f"cum_{num}"], f[f"cum_{den}"])
            part[num], part[den] = f[num].astype("int64"), f[den].astype("int64")
        rows += part.astype(object).to_dict("records")
    return rows


def daily_block(spec: Spec, engine: Engine, params: q.QueryParams, rel: q.Relations = q.DEFAULT_RELATIONS) -> list[dict[str, Any]]:
    """The ``daily`` block of the analysis result (reports/build.py renders one figure per metric)."""
    return daily_rows(daily_frame(spec, engine, params, rel), spec.arm_names)

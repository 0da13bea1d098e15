"""Breakdowns: primary and secondary metrics per value of each dimension, one correction family each."""

from __future__ import annotations

import pandas as pd

from abkit.spec import Spec
from experiments.analysis import queries as q
from experiments.analysis.rows import Row, adjust, compare_pairs, empty_stats, stats_by_key, vs_control


def other_label(n_values: int) -> str:
    """The value of the pooled row; parentheses keep it apart from real values."""
    return f"(other: {n_values:,} values)"


def cap_values(frame: pd.DataFrame, column: str, limit: int) -> tuple[pd.DataFrame, int, int]:
    """Keep the ``limit`` values with the most users (ties: by value); pool the rest per arm.

    ``frame`` holds per-(arm, value) sufficient statistics (counts and sums), which add up, so the
    pooled row is exactly the statistics of the other values' users together. Returns (frame,
    values pooled, users pooled)."""
    if frame.empty:
        return frame, 0, 0
    users = frame.groupby(column, dropna=False, sort=False)["n"].sum().reset_index()
    if len(users) <= limit:
        return frame, 0, 0
    users["_key"] = users[column].map(lambda v: "" if v is None or v != v else str(v))
    users = users.sort_values(["n", "_key"], ascending=[False, True], kind="stable")
    pooled_values = users.iloc[limit:]
    rest = frame[column].isin(pooled_values[column])
    sums = frame.columns.difference(["arm", column])
    other = frame[rest].groupby("arm", as_index=False)[list(sums)].sum()
    other[column] = other_label(len(pooled_values))
    return pd.concat([frame[~rest], other[frame.columns]], ignore_index=True), len(pooled_values), \
        int(pooled_values["n"].sum())


def _value_order(v: object) -> tuple[bool, bool, str]:
    pooled = isinstance(v, str) and v.startswith("(other: ")
    return (v is None, pooled, str(v))


def breakdown_rows(spec: Spec, name: str, index: int, frame: pd.DataFrame, layout: q.StatsLayout, *,
                   tuning_n: float | None = None) -> list[Row]:
    """Rows of dimension ``name`` (column ``dim_<index>`` of ``frame``), values sorted, None and the
    pooled other values last."""
    arms = spec.arm_names
    stats = stats_by_key(frame, layout, ["arm", f"dim_{index}"])
    values = sorted({k[1] for k in stats if k[0] in set(arms)}, key=_value_order)
    rows: list[Row] = []
    for v in values:
        sub = {a: stats.get((a, v), empty_stats(layout)) for a in arms}
        rws, _ = compare_pairs(spec, sub, [spec.primary_metric, *spec.secondary], vs_control(spec),
                               lambda m: f"breakdown:{name}", tuning_n=tuning_n)
        for r in rws:
            r.update(dimension=name, value=v, users={a: sub[a][spec.primary_metric].n for a in arms})
        rows += rws
    adjust(rows, spec.correction, spec.alpha)
    return rows


def breakdowns(spec: Spec, frames: dict[str, pd.DataFrame], layout: q.StatsLayout,
               notes: list[str] | None = None, *, tuning_n: float | None = None) -> dict[str, list[Row]]:
    """Every dimension's rows; a dimension with more than ``spec.max_breakdown_values`` values keeps
    the values with the most users and pools the rest (said in ``notes``)."""
    out = {}
    for i, (name, frame) in enumerate(frames.items()):
        capped, n_values, n_users = cap_values(frame, f"dim_{i}", spec.max_breakdown_values)
        if n_values and notes is not None:
            notes.append(f"Breakdown by {name}: {n_values + spec.max_breakdown_values:,} values; the "
                         f"{spec.max_breakdown_values:,} with the most users are shown and the other {n_values:,} "
                         f"({n_users:,} users) are pooled as {other_label(n_values)!r} (spec max_breakdown_values).")
        out[name] = breakdown_rows(spec, name, i, capped, layout, tuning_n=tuning_n)
    return out

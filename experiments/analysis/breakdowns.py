"""Breakdowns: primary and secondary metrics per value of each dimension, one correction family each."""

from __future__ import annotations

import pandas as pd

from abkit.spec import Spec
from experiments.analysis import queries as q
from experiments.analysis.rows import Row, adjust, compare_pairs, empty_stats, stats_by_key, vs_control


def breakdown_rows(spec: Spec, name: str, index: int, frame: pd.DataFrame, layout: q.StatsLayout) -> list[Row]:
    """Rows of dimension ``name`` (column ``dim_<index>`` of ``frame``), values sorted, None last."""
    arms = spec.arm_names
    stats = stats_by_key(frame, layout, ["arm", f"dim_{index}"])
    values = sorted({k[1] for k in stats if k[0] in set(arms)}, key=lambda v: (v is None, str(v)))
    rows: list[Row] = []
    for v in values:
        sub = {a: stats.get((a, v), empty_stats(layout)) for a in arms}
        rws, _ = compare_pairs(spec, sub, [spec.primary_metric, *spec.secondary], vs_control(spec),
                               lambda m: f"breakdown:{name}")
        for r in rws:
            r.update(dimension=name, value=v, users={a: sub[a][spec.primary_metric].n for a in arms})
        rows += rws
    adjust(rows, spec.correction, spec.alpha)
    return rows


def breakdowns(spec: Spec, frames: dict[str, pd.DataFrame], layout: q.StatsLayout) -> dict[str, list[Row]]:
    return {name: breakdown_rows(spec, name, i, frame, layout) for i, (name, frame) in enumerate(frames.items())}

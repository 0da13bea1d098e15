"""A seeded sample of the reason texts each arm showed to each persona, for the report.

Up to ``per_group`` distinct (item, text) per (arm, viewer segment), picked by md5 of the
experiment key and the ids (text_samples.sql): the same sample on every run of the same data.
Texts are returned raw; the report escapes them.
"""

from __future__ import annotations

from typing import Any

from abkit.spec import Spec
from experiments.analysis import queries as q
from experiments.analysis.block_sql import block_query
from experiments.analysis.engines.base import Engine


def sample_block(spec: Spec, engine: Engine, params: q.QueryParams, rel: q.Relations = q.DEFAULT_RELATIONS, *,
                 per_group: int = 3) -> list[dict[str, Any]]:
    """The ``samples`` block: [{"arm", "segment", "item_id", "title", "reason_id", "text",
    "reason_segment", "exposures"}], arms in spec order. Needs ``rel.per_user``."""
    query = block_query("text_samples", params, rel, values={"seed": spec.key, "per_group": int(per_group)},
                        engine=engine.name)
    frame = engine.frame(query)
    pos = {a: i for i, a in enumerate(spec.arm_names)}
    frame = frame[frame["arm"].isin(pos)]
    frame = frame.assign(_pos=frame["arm"].map(pos)).sort_values("_pos", kind="stable").drop(columns="_pos")
    frame["exposures"] = frame["exposures"].astype("int64")
    return frame.astype(object).where(frame.notna(), None).to_dict("records")

"""SQL of the optional analysis blocks (text features, daily trends, text samples).

Same conventions as experiments/analysis/queries.py, whose loaders and snippets this reuses: files in
experiments/analysis/sql/, ``{slot}`` markers filled with code-made SQL and validated identifiers only,
every value bound as ``$name``. The blocks read the stage tables (stages.py): the attributed events
with their anchors (``rel.attributed``), the excluded users, the per-user table and the text exposures.
"""

from __future__ import annotations

from typing import Any

from experiments.analysis import queries as q

# Local wall time of a naive-UTC column in the spec's zone ($timezone), per engine.
LOCAL_TS = {
    "duckdb": "timezone($timezone, timezone('UTC', {col}))",
    "spark": "from_utc_timestamp({col}, $timezone)",
}
FEATURES_TABLE = "abkit_text_features"


def local_ts(column: str, engine: str) -> str:
    """SQL for the local wall time of a naive-UTC timestamp column in the zone bound as $timezone."""
    if engine not in LOCAL_TS:
        raise ValueError(f"no local-time SQL for engine {engine!r} (known: {', '.join(LOCAL_TS)})")
    return LOCAL_TS[engine].format(col=column)


def block_query(name: str, p: q.QueryParams, rel: q.Relations = q.DEFAULT_RELATIONS, *,
                values: dict[str, Any] | None = None, engine: str = "duckdb") -> q.Query:
    """One of the block SQL files with every slot it uses filled and its values bound;
    ``engine`` (an engine's ``name``) picks the dialect of the few non-portable snippets."""
    slots = {
        "window_exposures": q._window_exposures(p, rel, with_extra=False),
        "per_user": rel.per_user,
        "users": rel.users,
        "reasons": rel.reasons,
        "events": rel.events,
        "items": rel.items,
        "features": FEATURES_TABLE,
        "excluded": rel.excluded,
        "attributed": rel.attributed,
        "user_texts": rel.user_texts,
    }
    sql = q.load_sql(name)
    for slot, column in (("local_ts", "x.ts"), ("local_minute", "s.minute"), ("local_first", "f.minute"),
                         ("local_event", "v.minute")):
        if f"{{{slot}}}" in sql:
            slots[slot] = local_ts(column, engine)
    return q._bind(name, q.render(sql, slots), {**p.values(), **(values or {})})

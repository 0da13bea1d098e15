"""SQL of the optional analysis blocks (text features, daily trends, text samples).

Same conventions as experiments/analysis/queries.py, whose loaders and snippets this reuses: files in
experiments/analysis/sql/, ``{slot}`` markers filled with code-made SQL and validated identifiers only,
every value bound as ``$name``. Attribution is per_user.sql's (``attribution_<mode>.sql``);
anchored_events.sql ties each attributed event to the exposure that anchors it.
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


def _anchored_events(p: q.QueryParams, rel: q.Relations) -> str:
    return q.render(q.load_sql("anchored_events"), {
        "events": rel.events,
        "per_user": rel.per_user,
        "event_as_of_filter": q._event_as_of("e", p),
        "attribution": q.load_sql(f"attribution_{p.attribution}").strip(),
    })


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
    }
    sql = q.load_sql(name)
    if "{local_ts}" in sql:
        slots["local_ts"] = local_ts("x.ts", engine)
    if "{anchored_events}" in sql:
        slots["anchored_events"] = _anchored_events(p, rel)
    return q._bind(name, q.render(sql, slots), {**p.values(), **(values or {})})

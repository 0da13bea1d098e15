"""The analysis SQL: load the named-CTE files of experiments/analysis/sql/, fill their slots, bind values.

Every value (experiment key, window bounds, attribution windows, dimension names, caps) is a
bound parameter (``$name``). The only text spliced into the SQL is (a) fixed snippets written
in this module and (b) identifiers — relation names and per-user column names — that pass
:func:`abkit.warehouse.check_identifier` and come from code, never from a user's string.

The SQL avoids DuckDB-only syntax where a standard form exists (window functions, ``min_by``,
``percentile_cont ... WITHIN GROUP``, ``CASE``, ``CAST``), so that the same files can be run on
Spark SQL (parameters ``$name`` → ``:name``; see experiments/engines).

Stages (each a SELECT the engine materializes under the name in :class:`Relations`):

1.  ``seen_users``         one row per (user, arm) seen in the window          → ``rel.seen``
1b. ``excluded_users``     seen users not in the analysis (multi-arm, bots)    → ``rel.excluded``
2a. ``attributed_events``  every attributed event once, with its anchor        → ``rel.attributed``
2.  ``per_user``           one row per analysis user, the metrics' columns     → ``rel.per_user``
2b. ``user_texts``         exposures with a reason per (user, reason, item)    → ``rel.user_texts``
3.  ``arm_stats``          per arm (× dimension) sufficient statistics          → Python

The blocks (daily, text features, text metrics, samples) read 1b, 2a, 2 and 2b instead of joining
the exposures to the per-user table or attributing again (experiments/analysis/stages.py documents
the columns). ``per_user`` can also attribute inline (``staged=False``: no 1b/2a tables needed).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from abkit.metrics import METRICS, MetricDef
from abkit.warehouse import check_identifier
from experiments.analysis.clean_sql import CLEANED_TABLES, clean_columns, clean_slots

SQL_DIR = Path(__file__).with_name("sql")
Attribution = Literal["join", "window"]
_SLOT = re.compile(r"\{([a-z_]+)\}")
_PARAM = re.compile(r"\$([a-z_][a-z0-9_]*)")
# Per-user columns the stats may read (stage 2's output); anything else is refused.
PER_USER_COLUMNS = (
    "exposures", "clicks", "carts", "orders", "revenue", "net_revenue", "refunded_orders",
    "converted", "pre_clicks", "pre_carts", "pre_orders", "pre_revenue", "pre_converted",
)
# Mean metrics whose per-user value may be capped by `winsorize` (0/1 and ratio parts are not).
WINSORIZABLE = ("clicks", "orders", "revenue", "net_revenue")


@dataclass(frozen=True)
class Relations:
    """Names of the relations the SQL reads and writes (validated identifiers)."""

    exposures: str = "exposures"
    events: str = "events"
    reasons: str = "reasons"
    users: str = "users"
    seen: str = "abkit_seen_users"
    per_user: str = "abkit_per_user"
    items: str = "items"
    excluded: str = "abkit_excluded_users"
    attributed: str = "abkit_attributed"
    user_texts: str = "abkit_user_texts"

    def __post_init__(self) -> None:
        for name in dataclasses.astuple(self):
            check_identifier(name)

    @property
    def stage_tables(self) -> tuple[str, ...]:
        """The stage tables an analysis materializes, in the order to drop them."""
        return (self.user_texts, self.per_user, self.attributed, self.excluded, self.seen)


DEFAULT_RELATIONS = Relations()


@dataclass(frozen=True)
class QueryParams:
    """Everything the attribution SQL depends on, from a spec plus run options."""

    experiment: str | None  # None: every experiment's exposures (historical planning)
    window_start: dt.datetime
    window_end: dt.datetime
    click_window: dt.timedelta = dt.timedelta(hours=1)
    order_window: dt.timedelta = dt.timedelta(hours=24)
    lookback: dt.timedelta = dt.timedelta(days=14)
    as_of: dt.datetime | None = None
    max_exposures: int | None = None
    dimensions: tuple[str, ...] = ()
    attribution: Attribution = "join"
    pool_arms: bool = False  # planning from history: every exposure counts as one arm, 'all'
    items_of: str | None = None  # planning from history: only items this experiment has reasons for
    as_of_ingested: bool = True  # as_of cuts by ingestion time too (what was known then); False: event time only

    @classmethod
    def from_spec(cls, spec: Any, *, as_of: dt.datetime | None = None, dimensions: Sequence[str] = (),
                  attribution: Attribution = "join") -> QueryParams:
        start, end = spec.window_utc()
        return cls(
            experiment=spec.key, window_start=start, window_end=end,
            click_window=spec.click_window, order_window=spec.order_window,
            lookback=spec.cuped_lookback, as_of=as_of,
            max_exposures=spec.max_exposures_per_user,
            dimensions=tuple(dict.fromkeys(dimensions)), attribution=attribution,
        )

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "experiment": self.experiment,
            "window_start": self.window_start,
            "window_end": self.window_end,
            "click_window": self.click_window,
            "order_window": self.order_window,
            "max_window": max(self.click_window, self.order_window),
            "lookback": self.lookback,
            "as_of": self.as_of,
            "max_exposures": self.max_exposures,
            "items_of": self.items_of,
        }
        for i, name in enumerate(self.dimensions):
            out[f"dim_{i}"] = name
        return out


@dataclass(frozen=True)
class Query:
    """One SQL statement and the values bound to it."""

    name: str
    sql: str
    params: dict[str, Any] = field(default_factory=dict)

    def show(self) -> str:
        """The SQL with its bound values listed in a comment header (for --show-sql)."""
        lines = [f"-- {self.name}"]
        lines += [f"--   ${k} = {v!r}" for k, v in self.params.items()]
        return "\n".join(lines) + "\n" + self.sql.strip() + ";\n"


@cache
def load_sql(name: str) -> str:
    """The text of experiments/analysis/sql/<name>.sql, with the shared fragment some files end
    with (``{daily_totals}``: daily_totals.sql) written in."""
    check_identifier(name)
    text = (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")
    return text if name == "daily_totals" else text.replace("{daily_totals}", load_sql("daily_totals"))


def render(template: str, slots: dict[str, str]) -> str:
    """Fill ``{slot}`` markers; every marker must be filled (nothing silently left over)."""

    def fill(m: re.Match[str]) -> str:
        if m.group(1) not in slots:
            raise KeyError(f"SQL slot {{{m.group(1)}}} has no value")
        return slots[m.group(1)]

    return _SLOT.sub(fill, template)


def _bind(name: str, sql: str, values: dict[str, Any]) -> Query:
    """Keep only the values the SQL references (DuckDB refuses unused named parameters)."""
    used = dict.fromkeys(_PARAM.findall(sql))
    missing = [k for k in used if k not in values]
    if missing:
        raise KeyError(f"{name}: no value for ${missing[0]}")
    return Query(name, sql, {k: values[k] for k in used})


# --- stage snippets -----------------------------------------------------------------------

def exposure_as_of(p: QueryParams) -> str:
    """The exposures known at ``p.as_of`` (by event time, and by ingestion time unless told otherwise)."""
    as_of = "\n      AND ts < $as_of" if p.as_of is not None else ""
    return as_of + ("\n      AND ingested_at <= $as_of" if p.as_of is not None and p.as_of_ingested else "")


def _window_exposures(p: QueryParams, rel: Relations, *, with_extra: bool, name: str = "window_exposures") -> str:
    as_of = exposure_as_of(p)
    return render(load_sql("window_exposures"), {
        "cte_name": name,
        "exposures": rel.exposures,
        "arm_column": "'all' AS arm" if p.pool_arms else "arm",
        "exposure_columns": ", extra" if with_extra else "",
        "experiment_filter": ("experiment = $experiment" if p.experiment is not None else "TRUE")
        + (f"\n      AND item_id IN (SELECT item_id FROM {rel.reasons} WHERE experiment = $items_of)"
           if p.items_of is not None else ""),
        "exposure_as_of_filter": as_of,
    })


def _event_as_of(alias: str, p: QueryParams) -> str:
    if p.as_of is None:
        return ""
    known = f"\n      AND {alias}.ingested_at <= $as_of" if p.as_of_ingested else ""
    return f"\n      AND {alias}.ts < $as_of{known}"


def seen_users(p: QueryParams, rel: Relations = DEFAULT_RELATIONS) -> Query:
    n = len(p.dimensions)
    firsts = select = join = ""
    if n:  # a second read of the window (a CTE read twice would be materialized): the rows with extras
        picks = "".join(f", min_by(extra[$dim_{i}], ts) AS dim_{i}" for i in range(n))
        firsts = (",\n" + _window_exposures(p, rel, with_extra=True, name="extra_exposures")
                  + f",\nfirst_values AS (\n    SELECT user_id, arm{picks}\n    FROM extra_exposures\n"
                  "    WHERE extra IS NOT NULL\n    GROUP BY user_id, arm\n)")
        select = "".join(f", d.dim_{i}" for i in range(n))
        join = "\nLEFT JOIN first_values d ON d.user_id = s.user_id AND d.arm = s.arm"
    sql = render(load_sql("seen_users"), {
        "window_exposures": _window_exposures(p, rel, with_extra=False),
        "dimension_first_values": firsts,
        "dimension_select": select,
        "dimension_join": join,
    })
    return _bind("seen_users", sql, p.values())


def _bot_filter(p: QueryParams, op: str) -> str:
    return f"\n       {op} sum(exposures) {'<=' if op == 'AND' else '>'} $max_exposures" if p.max_exposures is not None else ""


def excluded_users(p: QueryParams, rel: Relations = DEFAULT_RELATIONS) -> Query:
    sql = render(load_sql("excluded_users"), {"seen": rel.seen, "bot_filter": _bot_filter(p, "OR")})
    return _bind("excluded_users", sql, p.values())


def _stage(name: str, p: QueryParams, rel: Relations) -> Query:
    """A stage file rendered with the slots stages 2a and 2b use (window, stage tables, attribution)."""
    sql = render(load_sql(name), {
        "window_exposures": _window_exposures(p, rel, with_extra=False),
        "seen": rel.seen,
        "excluded": rel.excluded,
        "users": rel.users,
        "events": rel.events,
        "event_as_of_filter": _event_as_of("e", p),
        "attribution": load_sql(f"attribution_{p.attribution}").strip(),
    })
    return _bind(name, sql, p.values())


def attributed_events(p: QueryParams, rel: Relations = DEFAULT_RELATIONS) -> Query:
    return _stage("attributed_events", p, rel)


def user_texts(p: QueryParams, rel: Relations = DEFAULT_RELATIONS) -> Query:
    return _stage("user_texts", p, rel)


_INLINE_CANDIDATES = """attribution_candidates AS (
    SELECT event_id, user_id, item_id, type, ts, revenue, order_id
    FROM user_events
    WHERE ts >= first_exposure
),
"""


def user_segments(users: str) -> str:
    """SQL: one row per user of the users table ``users`` with their segment (the smallest where a
    user has several rows): what the segment dimension and the text blocks read."""
    return f"SELECT user_id, min(segment) AS segment FROM {users} GROUP BY user_id"


def user_dimensions(dimensions: Sequence[str], users: str, segment: str | None = None) -> tuple[str, str]:
    """(select, joins) of the per-user query's dimension columns: the value from the exposures
    (``u.dim_<i>``), else the users table's — its ``segment`` column for ``segment``, else the key
    of its ``extra`` map. The map keys are read only from the users rows that carry a map (min
    skips NULLs), in a grouping of their own: a string state per user in the one over every user
    costs more than the join. ``segment``: an expression of the per-user source that already holds
    the user's segment (the incremental state stores it with each user), instead of grouping the
    users table."""
    select = "".join(
        f",\n    COALESCE(u.dim_{i}, {(segment or 'ua.segment') if name == 'segment' else f'ux.dim_{i}'}) AS dim_{i}"
        for i, name in enumerate(dimensions))
    joins = ""
    if "segment" in dimensions and segment is None:
        joins += f"\nLEFT JOIN ({user_segments(users)}) ua ON ua.user_id = u.user_id"
    attrs = "".join(f", min(extra[$dim_{i}]) AS dim_{i}" for i, name in enumerate(dimensions) if name != "segment")
    if attrs:
        joins += (f"\nLEFT JOIN (\n    SELECT user_id{attrs}\n    FROM {users}\n    WHERE extra IS NOT NULL\n"
                  f"    GROUP BY user_id\n) ux ON ux.user_id = u.user_id")
    return select, joins


def per_user(p: QueryParams, rel: Relations = DEFAULT_RELATIONS, *, staged: bool = False) -> Query:
    """Stage 2; ``staged``: read the attributed events of ``rel.attributed`` (stage 2a) instead of
    attributing inline (what callers that materialize only seen + per_user use)."""
    n = len(p.dimensions)
    if staged:  # stage 1b already decided who is out: an anti-join with that small table
        users = render(load_sql("analysis_users_staged"), {
            "seen": rel.seen, "excluded": rel.excluded,
            "dimension_columns": "".join(f", s.dim_{i}" for i in range(n))})
    else:
        users = render(load_sql("analysis_users_grouped"), {
            "seen": rel.seen, "bot_filter": _bot_filter(p, "AND"),
            "dimension_pick": "".join(f",\n           min(dim_{i}) AS dim_{i}" for i in range(n))})
    select, joins = user_dimensions(p.dimensions, rel.users)
    if joins:  # the users-table values join the narrow analysis users, not the wide per-user rows (cheaper)
        users = (f"    SELECT u.user_id, u.arm, u.exposures, u.first_exposure, u.last_exposure{select}\n"
                 f"    FROM (\n{users.rstrip()}\n    ) u{joins}")
        select, joins = "".join(f", u.dim_{i}" for i in range(n)), ""
    sql = render(load_sql("per_user"), {
        "window_exposures": _window_exposures(p, rel, with_extra=False),
        "seen": rel.seen,
        "analysis_users": users.rstrip(),
        "events": rel.events,
        "event_as_of_filter": _event_as_of("e", p),
        "refund_as_of_filter": _event_as_of("r", p),
        "attributed": (f"attributed AS (\n    SELECT event_id, user_id, type, order_id, revenue FROM {rel.attributed}\n)"
                       if staged else _INLINE_CANDIDATES + load_sql(f"attribution_{p.attribution}").strip()),
        "window_open": ("CASE WHEN u.last_exposure + $max_window > $as_of THEN 1 ELSE 0 END"
                        if p.as_of is not None else "0"),
        "dimension_select": select,
        "dimension_joins": joins,
    })
    return _bind("per_user", sql, p.values())


def arm_counts(p: QueryParams, rel: Relations = DEFAULT_RELATIONS) -> Query:
    sql = render(load_sql("arm_counts"), {"seen": rel.seen, "excluded": rel.excluded})
    return _bind("arm_counts", sql, p.values())


def multi_arm_users(rel: Relations = DEFAULT_RELATIONS) -> Query:
    return _bind("multi_arm_users", render(load_sql("multi_arm_users"), {"excluded": rel.excluded}), {})


def exposed_texts(p: QueryParams, rel: Relations = DEFAULT_RELATIONS) -> Query:
    sql = render(load_sql("exposed_texts"), {"user_texts": rel.user_texts, "reasons": rel.reasons})
    return _bind("exposed_texts", sql, p.values())


# --- stage 3: sufficient statistics -------------------------------------------------------

def _column(name: str) -> str:
    if name not in PER_USER_COLUMNS:
        raise KeyError(f"{name!r} is not a per-user column")
    return check_identifier(name)


def winsorize_caps(columns: Iterable[str], percentile: float, rel: Relations = DEFAULT_RELATIONS) -> Query:
    cols = [_column(c) for c in columns]
    caps = ",\n".join(
        f"    percentile_cont($percentile) WITHIN GROUP (ORDER BY CASE WHEN {c} > 0 THEN {c} END) AS {c}"
        for c in cols
    )
    sql = render(load_sql("winsorize_caps"), {"caps": caps, "per_user": rel.per_user})
    return _bind("winsorize_caps", sql, {"percentile": percentile})


@dataclass(frozen=True)
class StatsLayout:
    """Which aggregate column holds each SufficientStats field of each metric."""

    fields: dict[str, dict[str, str]]  # metric -> {sum_y: alias, ...}
    expressions: dict[str, str]  # alias -> SQL expression
    caps: dict[str, float] = field(default_factory=dict)  # winsorizing caps bound as $cap_<column>


_FIELDS = ("sum_y", "sum_y2", "sum_d", "sum_d2", "sum_yd", "sum_x", "sum_x2", "sum_xy", "sum_xd")


def stats_layout(metrics: Iterable[str], caps: dict[str, float] | None = None) -> StatsLayout:
    """The sums each metric needs, deduplicated across metrics (orders feeds three metrics)."""
    caps = caps or {}
    expressions: dict[str, str] = {}
    aliases: dict[str, str] = {}
    fields: dict[str, dict[str, str]] = {}

    def alias_of(expr: str) -> str:
        if expr not in aliases:
            aliases[expr] = f"s{len(aliases)}"
            expressions[aliases[expr]] = expr
        return aliases[expr]

    for key in metrics:
        m: MetricDef = METRICS[key]
        y = f"CAST({_column(m.numerator)} AS DOUBLE)"
        if m.kind == "mean" and m.numerator in caps:
            y = f"LEAST(CAST({m.numerator} AS DOUBLE), $cap_{m.numerator})"
        d = f"CAST({_column(m.denominator)} AS DOUBLE)" if m.denominator else None
        x = f"CAST({_column(m.covariate)} AS DOUBLE)" if m.covariate else None
        parts: dict[str, str | None] = {
            "sum_y": y, "sum_y2": f"{y} * {y}",
            "sum_d": d, "sum_d2": d and f"{d} * {d}", "sum_yd": d and f"{y} * {d}",
            "sum_x": x, "sum_x2": x and f"{x} * {x}", "sum_xy": x and f"{x} * {y}",
            "sum_xd": (x and d) and f"{x} * {d}",
        }
        fields[key] = {f: alias_of(f"sum({e})") for f, e in parts.items() if e is not None}
    return StatsLayout(fields, expressions, dict(caps))


def arm_stats(layout: StatsLayout, *, dimension: int | None = None, rel: Relations = DEFAULT_RELATIONS,
              by_day: str | None = None, values: dict[str, Any] | None = None) -> Query:
    """Per arm (and per value of dimension ``dim_<i>`` when given) sufficient statistics; with ``by_day``
    (SQL of a date from the per-user columns, made by code) per arm and that day, as ``first_day``."""
    group = f", dim_{int(dimension)}" if dimension is not None else ""
    source = rel.per_user
    if by_day is not None:
        group += ", first_day"
        source = f"(SELECT u.*, {by_day} AS first_day FROM {rel.per_user} u) d"
    return _arm_stats(layout, source, group, f"arm{group}", values)


def _arm_stats(layout: StatsLayout, source: str, columns: str, grouping: str,
               values: dict[str, Any] | None = None) -> Query:
    sums = ",\n".join(f"    {expr} AS {alias}" for alias, expr in layout.expressions.items())
    sql = render(load_sql("arm_stats"), {"group_columns": columns, "grouping": grouping, "sums": sums,
                                         "per_user": source})
    bound = {**(values or {}), **{f"cap_{c}": float(v) for c, v in layout.caps.items()}}
    return _bind("arm_stats", sql, bound)


def arm_stats_sets(layout: StatsLayout, dimensions: int, rel: Relations = DEFAULT_RELATIONS) -> Query:
    """arm_stats per arm and per (arm, dim_<i>) for each of ``dimensions`` dimensions in one query: its
    ``grouping_set`` column is -1 on the per-arm rows and i on dimension i's (split by
    :func:`split_arm_stats`)."""
    dims = [f"dim_{i}" for i in range(int(dimensions))]
    which = "".join(f"WHEN grouping({d}) = 0 THEN {i} " for i, d in enumerate(dims))
    columns = "".join(f", {d}" for d in dims) + f", CASE {which}ELSE -1 END AS grouping_set"
    grouping = "GROUPING SETS ((arm)" + "".join(f", (arm, {d})" for d in dims) + ")"
    return _arm_stats(layout, rel.per_user, columns, grouping)


def split_arm_stats(frame: pd.DataFrame, dimensions: int) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """The frames :func:`arm_stats` returns per arm and per (arm, dim_<i>), from :func:`arm_stats_sets`'."""
    dims = [f"dim_{i}" for i in range(int(dimensions))]
    stats = [c for c in frame.columns if c not in {"arm", "grouping_set", *dims}]

    def part(index: int, keys: list[str]) -> pd.DataFrame:
        return frame.loc[frame["grouping_set"] == index, keys + stats].reset_index(drop=True)

    return part(-1, ["arm"]), [part(i, ["arm", d]) for i, d in enumerate(dims)]


# --- raw log files: validation and deduplication (engines that skip `abkit ingest`) ---------

# Columns of the cleaned tables (the warehouse columns the analysis reads), from abkit/schema.py.
CLEAN_COLUMNS = {t: tuple(clean_columns(t)) for t in CLEANED_TABLES}


def clean_ranked(table: str, source: str, parse_ts: str) -> Query:
    """Every raw row of ``source`` typed, with the reason it is unusable and its copy number.

    ``parse_ts`` is a fixed expression from the engine's code (never user text)."""
    slots = {**clean_slots(table, parse_ts), "source": check_identifier(source)}
    fragment = render(load_sql("clean_table"), slots)
    return _bind(f"clean_{table}", f"WITH\n{fragment}\nSELECT * FROM ranked", {})


def clean_rows(table: str, ranked: str) -> Query:
    sql = render(load_sql("clean_rows"), {"columns": ", ".join(CLEAN_COLUMNS[table]), "ranked": check_identifier(ranked)})
    return _bind(f"clean_{table}_rows", sql, {})


def clean_counts(ranked: str) -> Query:
    return _bind("clean_counts", render(load_sql("clean_counts"), {"ranked": check_identifier(ranked)}), {})


def all_queries(p: QueryParams, layout: StatsLayout, rel: Relations = DEFAULT_RELATIONS) -> list[Query]:
    """The statements of one analysis in order (what `abkit analyze --show-sql` prints)."""
    out = [seen_users(p, rel), excluded_users(p, rel), attributed_events(p, rel), per_user(p, rel, staged=True),
           arm_counts(p, rel), multi_arm_users(rel)]
    return out + [arm_stats_sets(layout, len(p.dimensions), rel) if p.dimensions else arm_stats(layout, rel=rel)]

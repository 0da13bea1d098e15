"""Incremental daily refresh: keep a running experiment's per-user state in the warehouse and
update it from the rows ingested since the last analysis (DuckDB warehouse only).

The state (tables ``abkit_state_<experiment>_*``, recorded in ``analysis_state`` with the spec's
hash and a watermark on ``ingested_at``):

- ``seen``    per (user, arm): exposures, first/last exposure, dimension values — stage 1's columns;
- ``events``  every click, cart and order with its anchor, the latest exposure of the same (user,
  item) at or before it within the longest window. An event is attributed when its anchor is within
  its type's window, so attribution, the per-user outcomes and the daily block all follow from it;
- ``refunds`` the refund rows of the stored orders;
- ``pre``     the CUPED covariates per user, for the first exposure they were computed at;
- ``days``    exposures per (arm, local day) over every seen user.

A refresh reads only the rows ingested after the watermark: new exposures merge into ``seen`` and
``days``; new events, and older events a new (late) exposure now anchors, get their anchor from the
exposures near them; refunds of stored orders add up by event id (an old order's refund counts for
the order's attribution); users whose first exposure moved get their covariates recomputed, the
others add late pre-period events. Users who become multi-arm (or bots) drop out where the per-user
table is derived, exactly as in the full path. The per-user table ``rel.per_user`` and ``rel.seen``
are then derived from the state, so every later step of ``analyze`` runs unchanged; the daily block
is derived from the state too. The first analysis builds the state (the refresh of an empty state).

The state is discarded and rebuilt when the spec (or the analysis window after a ship, the
dimensions, the relation names) changes, when ``--as-of`` is given (a full recompute), or when rows
appear with an ``ingested_at`` at or before the watermark (a backfill the watermark cannot see).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

import duckdb
import pandas as pd

from abkit.spec import Spec
from abkit.warehouse import check_identifier, has_table, transaction
from experiments.analysis import queries as q
from experiments.analysis.block_sql import local_ts
from experiments.analysis.daily import daily_rows
from experiments.analysis.stages import AnalysisError

StateMode = Literal["off", "auto"]
STATE_VERSION = 1  # bump when the state tables' meaning changes: every stored state is rebuilt
PARTS = ("seen", "events", "refunds", "pre", "days", "meta")
NEW_X = "abkit_incr_new_exposures"
CANDIDATES = "abkit_incr_candidates"
ANCHORED = "abkit_incr_anchored"
NEW_ORDERS = "abkit_incr_new_orders"
MOVED = "abkit_incr_moved_users"
_TEMP = (NEW_X, CANDIDATES, ANCHORED, NEW_ORDERS, MOVED)
_EVENT_TYPES = "type IN ('click', 'cart', 'order')"


@dataclass(frozen=True)
class Refresh:
    """What :func:`prepare_per_user` did: ``mode`` is ``built`` (no valid state: built from every
    row), ``refreshed`` (from the rows after the watermark) or ``full`` (state not used, ``reason``)."""

    mode: Literal["built", "refreshed", "full"]
    reason: str = ""
    new_rows: int = 0
    watermark: dt.datetime | None = None
    tables: dict[str, str] = dataclasses.field(default_factory=dict)

    def describe(self) -> str:
        if self.mode == "refreshed":
            return f"incremental refresh: {self.new_rows:,} rows ingested after the stored watermark"
        if self.mode == "built":
            return f"full recompute; incremental state stored ({self.reason})"
        return f"full recompute ({self.reason})"


def state_tables(experiment: str) -> dict[str, str]:
    """The state's table names (the key is [a-z0-9_]+, checked again here)."""
    return {part: check_identifier(f"abkit_state_{experiment}_{part}") for part in PARTS}


def spec_hash(spec: Spec, params: q.QueryParams, rel: q.Relations) -> str:
    """Everything the state depends on: the whole spec, the analysis window (a ship shortens it),
    the dimensions, the relations read and the state's format."""
    payload = {
        "version": STATE_VERSION,
        "spec": spec.model_dump(mode="json"),
        "window": [params.window_start.isoformat(), params.window_end.isoformat()],
        "dimensions": list(params.dimensions),
        "relations": dataclasses.asdict(rel),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _bind(name: str, sql: str, values: dict[str, Any]) -> q.Query:
    return q._bind(name, sql, values)


def _sql(name: str, slots: dict[str, str]) -> str:
    return q.render(q.load_sql(name), slots)


class _State:
    """One refresh of one experiment's state on a read-write DuckDB connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection, spec: Spec, params: q.QueryParams, rel: q.Relations) -> None:
        self.con, self.spec, self.params, self.rel = con, spec, params, rel
        self.t = state_tables(spec.key)
        self.values = {**params.values(), "timezone": spec.timezone}
        self.dims = range(len(params.dimensions))

    # --- helpers -------------------------------------------------------------------------

    def run(self, name: str, sql: str, extra: dict[str, Any] | None = None) -> duckdb.DuckDBPyConnection:
        query = _bind(name, sql, {**self.values, **(extra or {})})
        return self.con.execute(query.sql, query.params)

    def scalar(self, sql: str, params: list[Any] | None = None) -> Any:
        rows = self.con.execute(sql, params or []).fetchall()  # fetchall: leave no result open
        return rows[0][0] if rows else None

    def ingested_rows(self, watermark: dt.datetime) -> int:
        """Rows of the two logs ingested at or before ``watermark`` (a backfill changes this count)."""
        return int(sum(self.scalar(f"SELECT count(*) FROM {t} WHERE ingested_at <= ?", [watermark])
                       for t in (self.rel.exposures, self.rel.events)))

    def latest_ingested(self) -> dt.datetime | None:
        marks = [self.scalar(f"SELECT max(ingested_at) FROM {t}") for t in (self.rel.exposures, self.rel.events)]
        return max((m for m in marks if m is not None), default=None)

    # --- validity ------------------------------------------------------------------------

    def stored(self, digest: str) -> tuple[dt.datetime | None, str]:
        """(watermark, "") of a usable stored state, else (None, why it is rebuilt)."""
        rows = self.con.execute("SELECT spec_hash, watermark FROM analysis_state WHERE experiment = ?",
                                [self.spec.key]).fetchall()
        row = rows[0] if rows else None
        if row is None:
            return None, "no stored state"
        if row[0] != digest:
            return None, "the spec changed since the state was stored"
        if not all(has_table(self.con, name) for name in self.t.values()):
            return None, "the state tables are missing"
        watermark, rows = row[1], self.scalar(f"SELECT rows_at_watermark FROM {self.t['meta']}")
        if watermark is None or rows is None:
            return None, "the stored state is empty"
        if self.ingested_rows(watermark) != rows:
            return None, "rows were ingested with timestamps before the watermark"
        return watermark, ""

    # --- the update ----------------------------------------------------------------------

    def create(self) -> None:
        """Empty state tables (replacing any old ones)."""
        dims = "".join(f", CAST(NULL AS VARCHAR) AS dim_{i}, CAST(NULL AS TIMESTAMP) AS dim_{i}_ts" for i in self.dims)
        self.con.execute(f"""CREATE OR REPLACE TABLE {self.t['seen']} AS SELECT CAST(NULL AS VARCHAR) AS user_id,
            CAST(NULL AS VARCHAR) AS arm, CAST(0 AS BIGINT) AS exposures, CAST(NULL AS TIMESTAMP) AS first_exposure,
            CAST(NULL AS TIMESTAMP) AS last_exposure{dims} LIMIT 0""")
        self.con.execute(f"""CREATE OR REPLACE TABLE {self.t['events']} (event_id VARCHAR, user_id VARCHAR,
            item_id VARCHAR, type VARCHAR, ts TIMESTAMP, revenue DOUBLE, order_id VARCHAR, anchor_ts TIMESTAMP)""")
        self.con.execute(f"CREATE OR REPLACE TABLE {self.t['refunds']} "
                         "(event_id VARCHAR, order_id VARCHAR, revenue DOUBLE)")
        self.con.execute(f"""CREATE OR REPLACE TABLE {self.t['pre']} (user_id VARCHAR, first_exposure TIMESTAMP,
            pre_clicks BIGINT, pre_carts BIGINT, pre_orders BIGINT, pre_revenue DOUBLE)""")
        self.con.execute(f"CREATE OR REPLACE TABLE {self.t['days']} (arm VARCHAR, day DATE, exposures BIGINT)")
        self.con.execute(f"CREATE OR REPLACE TABLE {self.t['meta']} (rows_at_watermark BIGINT)")

    def update(self, watermark: dt.datetime | None, new_mark: dt.datetime, digest: str) -> int:
        """Bring the state from ``watermark`` (None: empty state) to ``new_mark``; the new rows' count."""
        new = " AND ingested_at > $watermark" if watermark is not None else ""
        marks = {"watermark": watermark} if watermark is not None else {}
        new_rows = 0
        if watermark is not None:
            new_rows = int(sum(self.scalar(f"SELECT count(*) FROM {t} WHERE ingested_at > ?", [watermark])
                               for t in (self.rel.exposures, self.rel.events)))
        self._exposures(new, marks)
        self._events(new, marks, watermark)
        self._refunds(watermark, marks)
        self._pre(new, marks, watermark)
        self.con.execute(f"DELETE FROM {self.t['meta']}")
        self.con.execute(f"INSERT INTO {self.t['meta']} VALUES (?)", [self.ingested_rows(new_mark)])
        self.con.execute("INSERT OR REPLACE INTO analysis_state VALUES (?, ?, ?, ?)",
                         [self.spec.key, digest, new_mark, dt.datetime.now(dt.UTC).replace(tzinfo=None)])
        return new_rows

    def _exposures(self, new: str, marks: dict[str, Any]) -> None:
        """New window exposures → seen (merged) and days (added)."""
        values = "".join(f", extra[$dim_{i}] AS dim_{i}" for i in self.dims)
        self.run("incremental_new_exposures", f"CREATE OR REPLACE TEMP TABLE {NEW_X} AS " + _sql(
            "incremental_new_exposures", {"exposures": self.rel.exposures, "local_ts": local_ts("ts", "duckdb"),
                                          "dimension_values": values, "ingested_filter": new}), marks)
        merged = _sql("incremental_seen_merge", {
            "seen_state": self.t["seen"], "new_exposures": NEW_X,
            "dimension_columns": "".join(f", dim_{i}, dim_{i}_ts" for i in self.dims),
            "dimension_new": "".join(f", min_by(dim_{i}, ts), min(CASE WHEN dim_{i} IS NOT NULL THEN ts END)"
                                     for i in self.dims),
            "dimension_merge": "".join(f", min_by(dim_{i}, dim_{i}_ts) AS dim_{i}, min(dim_{i}_ts) AS dim_{i}_ts"
                                       for i in self.dims),
        })
        self.con.execute(f"CREATE OR REPLACE TABLE {self.t['seen']} AS {merged}")
        self.con.execute(f"INSERT INTO {self.t['days']} SELECT arm, day, count(*) FROM {NEW_X} GROUP BY arm, day")

    def _events(self, new: str, marks: dict[str, Any], watermark: dt.datetime | None) -> None:
        """Candidate events → their anchors → replace them in the event state."""
        touched = ""
        extra = dict(marks)
        first_new = self.scalar(f"SELECT min(ts) FROM {NEW_X}")
        if watermark is not None and first_new is not None:
            touched = "\nUNION ALL\n" + _sql("incremental_touched", {"events": self.rel.events, "new_exposures": NEW_X})
            extra["touched_from"] = first_new
        self.run("incremental_candidates", f"CREATE OR REPLACE TEMP TABLE {CANDIDATES} AS " + _sql(
            "incremental_candidates", {"events": self.rel.events, "ingested_filter": new, "touched_events": touched}),
            extra)
        first_event = self.scalar(f"SELECT min(ts) FROM {CANDIDATES}")
        if first_event is None:
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {NEW_ORDERS} (order_id VARCHAR)")
            return
        self.run("incremental_anchor", f"CREATE OR REPLACE TEMP TABLE {ANCHORED} AS " + _sql(
            "incremental_anchor", {"candidates": CANDIDATES, "exposures": self.rel.exposures}),
            {"anchor_from": first_event - self.params.values()["max_window"]})
        events = self.t["events"]
        self.con.execute(f"""CREATE OR REPLACE TEMP TABLE {NEW_ORDERS} AS
            SELECT DISTINCT order_id FROM {ANCHORED} WHERE type = 'order' AND order_id IS NOT NULL
            EXCEPT SELECT order_id FROM {events} WHERE type = 'order'""")
        if watermark is not None:
            self.con.execute(f"DELETE FROM {events} WHERE event_id IN (SELECT event_id FROM {CANDIDATES})")
        self.con.execute(f"INSERT INTO {events} SELECT * FROM {ANCHORED}")

    def _refunds(self, watermark: dt.datetime | None, marks: dict[str, Any]) -> None:
        sql = _sql("incremental_refunds", {
            "events": self.rel.events, "events_state": self.t["events"], "new_orders": NEW_ORDERS,
            "refunds_state": self.t["refunds"],
            "new_refund": "r.ingested_at > $watermark" if watermark is not None else "TRUE"})
        self.run("incremental_refunds", f"INSERT INTO {self.t['refunds']} {sql}", marks)

    def _pre(self, new: str, marks: dict[str, Any], watermark: dt.datetime | None) -> None:
        """Covariates: late pre-period events of unchanged users add; users whose first exposure is
        new or moved (a late, earlier exposure) are recomputed from their events."""
        pre = self.t["pre"]
        self.con.execute(f"""CREATE OR REPLACE TEMP TABLE {MOVED} AS
            SELECT s.user_id, min(s.first_exposure) AS first_exposure
            FROM {self.t['seen']} s SEMI JOIN (SELECT DISTINCT user_id FROM {NEW_X}) n ON n.user_id = s.user_id
            GROUP BY s.user_id""")
        self.con.execute(f"""DELETE FROM {MOVED} m WHERE EXISTS (SELECT 1 FROM {pre} p
            WHERE p.user_id = m.user_id AND p.first_exposure = m.first_exposure)""")
        lookback = self.params.values()["lookback"]
        if watermark is not None:
            # late pre-period events of users whose first exposure did not move
            bounds = self.scalar(f"SELECT [min(ts), max(ts)] FROM {self.rel.events} WHERE ingested_at > ? "
                                 f"AND {_EVENT_TYPES}", [watermark])
            if bounds and bounds[0] is not None:
                # an event id ingested before (a re-sent row) is already counted
                late = _sql("incremental_pre", {"users": pre, "events": self.rel.events, "ingested_filter": (
                    "\n      AND ingested_at > $watermark\n      AND event_id NOT IN "
                    f"(SELECT event_id FROM {self.rel.events} WHERE ingested_at <= $watermark)")})
                self.run("incremental_pre_late", f"""
                    UPDATE {pre} SET pre_clicks = {pre}.pre_clicks + l.pre_clicks,
                        pre_carts = {pre}.pre_carts + l.pre_carts, pre_orders = {pre}.pre_orders + l.pre_orders,
                        pre_revenue = {pre}.pre_revenue + l.pre_revenue
                    FROM ({late}) l WHERE l.user_id = {pre}.user_id
                      AND l.user_id NOT IN (SELECT user_id FROM {MOVED})""",
                    {**marks, "pre_from": bounds[0], "pre_to": bounds[1] + dt.timedelta(microseconds=1)})
        span = self.con.execute(f"SELECT min(first_exposure), max(first_exposure) FROM {MOVED}").fetchall()[0]
        if span is None or span[0] is None:
            return
        self.con.execute(f"DELETE FROM {pre} WHERE user_id IN (SELECT user_id FROM {MOVED})")
        moved = _sql("incremental_pre", {"users": MOVED, "events": self.rel.events, "ingested_filter": ""})
        self.run("incremental_pre", f"""INSERT INTO {pre} SELECT m.user_id, m.first_exposure,
                COALESCE(p.pre_clicks, 0), COALESCE(p.pre_carts, 0), COALESCE(p.pre_orders, 0),
                COALESCE(p.pre_revenue, 0)
            FROM {MOVED} m LEFT JOIN ({moved}) p ON p.user_id = m.user_id""",
                 {"pre_from": span[0] - lookback, "pre_to": span[1]})

    # --- what analyze reads -------------------------------------------------------------------

    def materialize(self) -> None:
        """``rel.seen`` and ``rel.per_user`` as the full path would make them, from the state."""
        p, rel, n = self.params, self.rel, len(self.params.dimensions)
        dims = "".join(f", dim_{i}" for i in self.dims)
        self.con.execute(f"""CREATE OR REPLACE TEMP TABLE {rel.seen} AS
            SELECT user_id, arm, exposures, first_exposure, last_exposure{dims} FROM {self.t['seen']}""")
        joins = ""
        if n:
            attrs = "".join(f", min(extra[$dim_{i}]) AS dim_{i}" for i in self.dims)
            joins = (f"\nLEFT JOIN (\n    SELECT user_id, min(segment) AS segment{attrs}\n"
                     f"    FROM {rel.users}\n    GROUP BY user_id\n) ua ON ua.user_id = u.user_id")
        sql = _sql("incremental_per_user", {
            "seen": rel.seen, "events_state": self.t["events"], "refunds_state": self.t["refunds"],
            "pre_state": self.t["pre"],
            "dimension_pick": "".join(f",\n           min(dim_{i}) AS dim_{i}" for i in self.dims),
            "bot_filter": "\n       AND sum(exposures) <= $max_exposures" if p.max_exposures is not None else "",
            "dimension_select": "".join(
                f",\n    COALESCE(u.dim_{i}, ua.{'segment' if name == 'segment' else f'dim_{i}'}) AS dim_{i}"
                for i, name in enumerate(p.dimensions)),
            "dimension_joins": joins,
        })
        self.run("incremental_per_user", f"CREATE OR REPLACE TEMP TABLE {rel.per_user} AS {sql}")

    def daily_frame(self) -> pd.DataFrame:
        """daily_stats.sql's frame, from the state (needs :meth:`materialize` first)."""
        sql = _sql("incremental_daily", {
            "window_exposures": q._window_exposures(self.params, self.rel, with_extra=False),
            "seen": self.rel.seen, "per_user": self.rel.per_user, "days_state": self.t["days"],
            "events_state": self.t["events"], "local_ts": local_ts("x.ts", "duckdb"),
            "local_first": local_ts("first_exposure", "duckdb"), "local_anchor": local_ts("e.anchor_ts", "duckdb"),
        })
        return self.run("incremental_daily", sql).df()

    def drop_temp(self) -> None:
        for name in _TEMP:
            self.con.execute(f"DROP TABLE IF EXISTS {name}")


def _read_only(con: duckdb.DuckDBPyConnection) -> bool:
    return str(con.execute("SELECT current_setting('access_mode')").fetchall()[0][0]).lower() == "read_only"


def prepare_per_user(spec: Spec, con: Any, params: q.QueryParams, rel: q.Relations) -> tuple[Refresh, _State | None]:
    """Refresh (or build) the stored state and derive ``rel.seen`` / ``rel.per_user`` from it.
    Returns ``full`` (and no state) where the state cannot be used; the caller then runs the full path."""
    if not isinstance(con, duckdb.DuckDBPyConnection):
        raise AnalysisError("incremental refresh needs the DuckDB warehouse (not Spark or raw log files): "
                            "run a full analysis")
    if params.as_of is not None:
        return Refresh("full", "--as-of analyses what was known then"), None
    if _read_only(con) or not has_table(con, "analysis_state"):
        return Refresh("full", "the warehouse is open read-only"), None
    state = _State(con, spec, params, rel)
    digest = spec_hash(spec, params, rel)
    new_mark = state.latest_ingested()
    with transaction(con):
        watermark, why = state.stored(digest)
        if watermark is None:
            state.create()
        new_rows = 0
        if new_mark is not None and (watermark is None or new_mark > watermark):
            new_rows = state.update(watermark, new_mark, digest)
        state.drop_temp()
    state.materialize()
    tables = dict(state.t)
    if watermark is None:
        return Refresh("built", why, watermark=new_mark, tables=tables), state
    return Refresh("refreshed", new_rows=new_rows, watermark=max(watermark, new_mark or watermark),
                   tables=tables), state


def daily_block_from(state: _State) -> Any:
    """The ``daily`` block's function (blocks.BLOCKS signature) reading the state."""
    def block(spec: Spec, engine: Any, params: q.QueryParams, rel: q.Relations) -> list[dict[str, Any]]:
        return daily_rows(state.daily_frame(), spec.arm_names)
    return block


def drop_state(con: duckdb.DuckDBPyConnection, experiment: str) -> None:
    """Forget an experiment's stored state (the next analysis rebuilds it)."""
    with transaction(con):
        for name in state_tables(experiment).values():
            con.execute(f"DROP TABLE IF EXISTS {name}")
        con.execute("DELETE FROM analysis_state WHERE experiment = ?", [experiment])

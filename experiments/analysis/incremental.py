"""Incremental daily refresh: keep a running experiment's per-user state in the warehouse and
update it from the rows ingested since the last analysis (DuckDB warehouse only).

The state (tables ``abkit_state_<experiment>_*``, recorded in ``analysis_state`` with a hash of the
spec and a watermark on ``ingested_at``):

- ``seen``    per (user, arm): exposures, first/last exposure, dimension values (stage 1's columns),
  the CUPED covariates of the user's first exposure (kept up to date for users in one arm: a
  multi-arm user is never analysed again), and the user's segment (the users table's);
- ``multi``   the users seen in more than one arm (only a user with a new (user, arm) row can join
  them), so the users of one arm are read as their one row instead of regrouping every user;
- ``user_days`` exposures per (user, arm, local day), appended (the daily block reads it only for the
  few users the analysis excludes);
- ``events``  every click, cart and order with its anchor: the latest exposure of the same (user,
  item) at or before it, within the longest window, that exposure's reason and arm. An event is
  attributed when its anchor is within its type's window (attribution_join.sql picks the same
  anchor), so the attributed events, the per-user outcomes and the daily block follow;
- ``refunds`` the refund rows of the stored orders;
- ``days``    exposures per (arm, local day) over every seen user;
- ``others``  per user and other experiment in the window: min and max arm (the interaction check);
- ``texts``   exposures showing a reason per (user, arm, reason, item), with the user's segment (stage
  2b before exclusion);
- ``features`` the text-feature levels per (reason, item, segment, text) key and the digest of the
  catalog they were computed with (experiments/analysis/incremental_features.py).

A refresh reads only the rows ingested after the watermark: new exposures merge into ``seen``,
``days``, ``texts`` and ``others``; new events, and older events that a new (late) exposure now
anchors, get their anchor from the exposures near them; refunds of stored orders are added by event
id (a refund of an old order counts against that order's attribution); users whose first exposure
is new or moved get their covariates computed, the others add late pre-period events. Then the
stage tables of stages.materialize_per_user (``rel.seen``, ``rel.excluded``, ``rel.attributed``,
``rel.per_user``, ``rel.user_texts``) are derived from the state alone, so every later step of
``analyze`` runs unchanged; users who become multi-arm (or bots) leave exactly as in the full path.
The daily block, the text-feature levels and the interaction check read the state instead of the
exposures. The first analysis builds the state (the refresh of an empty one). Cost: the new rows,
the events near them, and passes over the per-user state (users, not exposures).

Where every row of the warehouse carries its integer user key (experiments/analysis/keyed.py) the
state holds the keys, as the full path's stage tables do; the relations read are part of the spec
hash, so a state on the keys is rebuilt on the string ids when some row lacks its key, and back.
``seen``, ``texts`` and ``others`` are updated in place (the stored keys updated, the new ones
inserted): a day touches about half the users, and rewriting every row cost more.

The segments are the smallest of each user's rows in the users table (q.user_segments): a user first
seen reads theirs, users rows ingested after the state's own mark on that table lower them, and rows
at or before it that change (a count) rebuild the state, so no refresh groups every user's rows.

What an analysis reads from the state (the stage tables, the daily block, the text blocks' levels)
is experiments/analysis/incremental_read.py.

The state is rebuilt when the spec, the analysis window (a ship), the dimensions or the relations
change, and when rows appear with an ``ingested_at`` at or before the watermark (a backfill the
watermark cannot see). ``--as-of`` analyses are always full.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any, Literal

import duckdb

from abkit.spec import Spec
from abkit.warehouse import check_identifier, has_table, transaction
from experiments.analysis import queries as q
from experiments.analysis.block_sql import local_ts
from experiments.analysis.engines.base import Engine
from experiments.analysis.incremental_features import cache_columns
from experiments.analysis.incremental_read import StateReader, render_sql, state_tables
from experiments.analysis.stages import AnalysisError, materialize_per_user

StateMode = Literal["off", "auto"]
STATE_VERSION = 4  # bump when the state tables' meaning changes: every stored state is rebuilt
PRE = ("pre_clicks", "pre_carts", "pre_orders", "pre_revenue")  # the CUPED covariates, columns of ``seen``
NEW_X = "abkit_incr_new_exposures"
CANDIDATES = "abkit_incr_candidates"
ANCHORED = "abkit_incr_anchored"
NEW_ORDERS = "abkit_incr_new_orders"
MOVED = "abkit_incr_moved_users"
NEW_GROUPS = "abkit_incr_new_groups"  # the new rows' groups of one state table (State.upsert)
NEW_SEEN = "abkit_incr_new_seen"  # the new exposures per (user, arm), merged into ``seen``
INSERTED = "abkit_incr_inserted"  # the new groups of a key not stored before (State.upsert)
# the anchor's reason: of the exposures at the latest ts, the largest reason_id (attribution_join.sql's
# tie-break), NULL when none shows one; the state lives in DuckDB only, so its struct max is used
ANCHOR_REASON = "NULLIF(max(struct_pack(t := x.ts, r := COALESCE(x.reason_id, ''))).r, '')"
_TEMP = (NEW_X, CANDIDATES, ANCHORED, NEW_ORDERS, MOVED, NEW_GROUPS, NEW_SEEN, INSERTED)
_EVENT_TYPES = "type IN ('click', 'cart', 'order')"


@dataclass(frozen=True)
class Refresh:
    """What :func:`prepare_per_user` did: ``built`` (no usable state: built from every row),
    ``refreshed`` (from the rows after the watermark) or ``full`` (state not used, see ``reason``)."""

    mode: Literal["built", "refreshed", "full"]
    reason: str = ""
    new_rows: int = 0
    watermark: dt.datetime | None = None
    timings: tuple[tuple[str, float], ...] = ()

    def describe(self) -> str:
        if self.mode == "refreshed":
            return f"incremental refresh: {self.new_rows:,} rows ingested after the stored watermark"
        if self.mode == "built":
            return f"full recompute; incremental state stored ({self.reason})"
        return f"full recompute ({self.reason})"


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


class State(StateReader):
    """One experiment's stored state on a read-write DuckDB connection: its validity and its update
    (what analyze reads from it: incremental_read.StateReader)."""

    # --- helpers -------------------------------------------------------------------------

    def exec(self, name: str, sql: str, params: Any = None) -> duckdb.DuckDBPyConnection:
        """Run one statement, timed into ``self.timings``."""
        t = time.perf_counter()
        out = self.con.execute(sql, params or [])
        self.timings.append((name, time.perf_counter() - t))
        return out

    def run(self, name: str, sql: str, extra: dict[str, Any] | None = None) -> duckdb.DuckDBPyConnection:
        """A statement with ``$name`` values bound from the query parameters (and ``extra``)."""
        query = q._bind(name, sql, {**self.values, **(extra or {})})
        return self.exec(name, query.sql, query.params)

    def scalar(self, sql: str, params: list[Any] | None = None) -> Any:
        rows = self.exec("scalar", sql, params).fetchall()  # fetchall: leave no result open
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
        rows = self.exec("state", "SELECT spec_hash, watermark FROM analysis_state WHERE experiment = ?",
                         [self.spec.key]).fetchall()
        if not rows:
            return None, "no stored state"
        if rows[0][0] != digest:
            return None, "the spec changed since the state was stored"
        if not all(has_table(self.con, name) for name in self.t.values()):
            return None, "the state tables are missing"
        watermark, (counted, self.users_mark, users_counted) = rows[0][1], self.exec(
            "state", f"SELECT max(rows_at_watermark), max(users_mark), max(users_rows) FROM {self.t['meta']}").fetchall()[0]
        if watermark is None or counted is None:
            return None, "the stored state is empty"
        if self.ingested_rows(watermark) != counted:
            return None, "rows were ingested with timestamps before the watermark"
        if self.users_rows(self.users_mark) != users_counted:
            return None, "users rows were ingested with timestamps before the state's mark, or removed"
        return watermark, ""

    def users_rows(self, mark: dt.datetime | None) -> int:
        """Rows of the users table ingested at or before ``mark`` (its own mark: the table is not a log)."""
        return 0 if mark is None else int(self.scalar(f"SELECT count(*) FROM {self.rel.users} WHERE ingested_at <= ?",
                                                      [mark]))

    # --- the update ----------------------------------------------------------------------

    def create(self) -> None:
        """Empty state tables (replacing any old ones)."""
        t = self.t
        dims = "".join(f", dim_{i} VARCHAR, dim_{i}_ts TIMESTAMP" for i in self.dims)
        user = f"user_id {self.user_type}"
        # the covariates were a table of their own before STATE_VERSION 4
        self.exec("create", f"DROP TABLE IF EXISTS {check_identifier(f'abkit_state_{self.spec.key}_pre')}")
        for name, columns in (
            ("seen", f"{user}, arm VARCHAR, exposures BIGINT, first_exposure TIMESTAMP, "
                     f"last_exposure TIMESTAMP{dims}, pre_clicks BIGINT, pre_carts BIGINT, pre_orders BIGINT, "
                     "pre_revenue DOUBLE, segment VARCHAR"),
            ("multi", user),
            ("user_days", f"{user}, arm VARCHAR, day DATE, n BIGINT"),
            ("events", f"event_id VARCHAR, {user}, item_id VARCHAR, type VARCHAR, ts TIMESTAMP, "
                       "revenue DOUBLE, order_id VARCHAR, anchor_ts TIMESTAMP, anchor_reason_id VARCHAR, arm VARCHAR"),
            ("refunds", "event_id VARCHAR, order_id VARCHAR, revenue DOUBLE"),
            ("days", "arm VARCHAR, day DATE, exposures BIGINT"),
            ("others", f"{user}, experiment VARCHAR, min_arm VARCHAR, max_arm VARCHAR, first_ts TIMESTAMP"),
            ("texts", f"{user}, arm VARCHAR, reason_id VARCHAR, item_id VARCHAR, exposures BIGINT, segment VARCHAR"),
            ("features", cache_columns()),
            ("features_meta", "digest VARCHAR"),
            ("meta", "rows_at_watermark BIGINT, users_mark TIMESTAMP, users_rows BIGINT"),
        ):
            self.exec("create", f"CREATE OR REPLACE TABLE {t[name]} ({columns})")

    def update(self, watermark: dt.datetime | None, new_mark: dt.datetime, digest: str) -> int:
        """Bring the state from ``watermark`` (None: empty state) to ``new_mark``; the new rows' count."""
        new = "\n  AND ingested_at > $watermark" if watermark is not None else ""
        marks = {"watermark": watermark} if watermark is not None else {}
        new_rows = 0
        if watermark is not None:
            new_rows = int(sum(self.scalar(f"SELECT count(*) FROM {t} WHERE ingested_at > ?", [watermark])
                               for t in (self.rel.exposures, self.rel.events)))
        self._exposures(new, marks)
        self._events(new, marks, watermark)
        self._refunds(watermark, marks)
        self._pre(marks, watermark)
        self.exec("meta", f"DELETE FROM {self.t['meta']}")
        self.exec("meta", f"INSERT INTO {self.t['meta']} VALUES (?, NULL, NULL)", [self.ingested_rows(new_mark)])
        self.update_segments(stored=watermark is not None)
        self.exec("meta", "INSERT OR REPLACE INTO analysis_state VALUES (?, ?, ?, ?)",
                  [self.spec.key, digest, new_mark, dt.datetime.now(dt.UTC).replace(tzinfo=None)])
        return new_rows

    def _exposures(self, new: str, marks: dict[str, Any]) -> None:
        """New window exposures → seen (merged), days (added), texts (added in place); other
        experiments' → others (merged in place)."""
        values = "".join(f", extra[$dim_{i}] AS dim_{i}" for i in self.dims)
        self.run("new_exposures", f"CREATE OR REPLACE TEMP TABLE {NEW_X} AS " + render_sql(
            "incremental_new_exposures", {"exposures": self.rel.exposures, "local_minute": local_ts("m.minute", "duckdb"),
                                          "dimension_values": values, "ingested_filter": new}), marks)
        self.exec("seen_new", f"CREATE OR REPLACE TEMP TABLE {NEW_SEEN} AS " + render_sql("incremental_seen_new", {
            "new_exposures": NEW_X,
            "dimension_new": "".join(f", min_by(dim_{i}, ts) AS dim_{i}, min(CASE WHEN dim_{i} IS NOT NULL "
                                     f"THEN ts END) AS dim_{i}_ts" for i in self.dims)}))
        seen = self.t["seen"]
        # rows whose first exposure moves earlier (a late exposure): their covariates are computed again.
        # Only a new row before the latest stored exposure can (most of a day's rows come after it).
        self.exec("pre_moved", f"""CREATE OR REPLACE TEMP TABLE {MOVED} AS
            SELECT n.user_id, n.arm, n.first_exposure
            FROM (SELECT * FROM {NEW_SEEN} WHERE first_exposure < (SELECT max(last_exposure) FROM {seen})) n
            JOIN {seen} s ON s.user_id = n.user_id AND s.arm = n.arm WHERE n.first_exposure < s.first_exposure""")
        self.upsert("seen", ("user_id", "arm"), "exposures = s.exposures + n.exposures, "
                    "first_exposure = least(s.first_exposure, n.first_exposure), "
                    "last_exposure = greatest(s.last_exposure, n.last_exposure)" + "".join(
                        f", dim_{i} = CASE WHEN s.dim_{i}_ts IS NULL OR n.dim_{i}_ts < s.dim_{i}_ts THEN n.dim_{i} "
                        f"ELSE s.dim_{i} END, dim_{i}_ts = least(s.dim_{i}_ts, n.dim_{i}_ts)" for i in self.dims),
                    groups=NEW_SEEN)
        # users seen in more than one arm: only a user with a new (user, arm) row can join them
        self.exec("multi", f"""INSERT INTO {self.t['multi']}
            SELECT user_id FROM {seen} SEMI JOIN {INSERTED} n USING (user_id)
            GROUP BY user_id HAVING count(*) > 1
            EXCEPT SELECT user_id FROM {self.t['multi']}""")
        # new rows: the user's segment (q.user_segments' min over the users rows), and the covariates below
        self.exec("segments_new", f"""UPDATE {seen} s SET segment = g.segment FROM {INSERTED} i JOIN (
                SELECT user_id, min(segment) AS segment FROM {self.rel.users}
                WHERE user_id IN (SELECT user_id FROM {INSERTED}) GROUP BY user_id
            ) g ON g.user_id = i.user_id WHERE s.user_id = i.user_id AND s.arm = i.arm""")
        # new rows get their covariates too; a multi-arm user's are never read again (always excluded)
        self.exec("pre_moved", f"INSERT INTO {MOVED} SELECT user_id, arm, first_exposure FROM {INSERTED}")
        self.exec("pre_moved", f"DELETE FROM {MOVED} WHERE user_id IN (SELECT user_id FROM {self.t['multi']})")
        self.exec("user_days", f"INSERT INTO {self.t['user_days']} "
                  f"SELECT user_id, arm, day, count(*) FROM {NEW_X} GROUP BY user_id, arm, day")
        self.exec("days", f"INSERT INTO {self.t['days']} SELECT arm, day, count(*) FROM {NEW_X} GROUP BY arm, day")
        self.exec("texts_new", f"CREATE OR REPLACE TEMP TABLE {NEW_GROUPS} AS "
                  + render_sql("incremental_texts_new", {"new_exposures": NEW_X, "seen_state": seen}))
        self.upsert("texts", ("user_id", "arm", "reason_id", "item_id"), "exposures = s.exposures + n.exposures")
        self.run("others_new", f"CREATE OR REPLACE TEMP TABLE {NEW_GROUPS} AS " + render_sql(
            "incremental_other_new", {"exposures": self.rel.exposures, "ingested_filter": new}), marks)
        self.upsert("others", ("user_id", "experiment"), "min_arm = least(s.min_arm, n.min_arm), "
                    "max_arm = greatest(s.max_arm, n.max_arm), first_ts = least(s.first_ts, n.first_ts)")

    def upsert(self, part: str, keys: tuple[str, ...], merge: str, groups: str = NEW_GROUPS) -> None:
        """Merge the new groups (``groups``, one row per key) into a state table in place: the
        stored keys updated by ``merge`` (``s`` the stored row, ``n`` the new one), the others
        inserted (and kept in ``INSERTED`` until the next upsert). The stored rows a day leaves
        alone (for ``seen``, about half) are not rewritten."""
        table, on = self.t[part], " AND ".join(f"n.{k} = s.{k}" for k in keys)
        self.exec(f"{part}_update", f"UPDATE {table} s SET {merge} FROM {groups} n WHERE {on}")
        self.exec(f"{part}_insert", f"CREATE OR REPLACE TEMP TABLE {INSERTED} AS SELECT n.* FROM {groups} n "
                                    f"ANTI JOIN {table} s ON {on}")
        self.exec(f"{part}_insert", f"INSERT INTO {table} BY NAME SELECT * FROM {INSERTED}")

    def _events(self, new: str, marks: dict[str, Any], watermark: dt.datetime | None) -> None:
        """Candidate events → their anchors → replace them in the event state."""
        touched = ""
        extra = dict(marks)
        first_new = self.scalar(f"SELECT min(ts) FROM {NEW_X}")
        if watermark is not None and first_new is not None:
            touched = "\nUNION ALL\n" + render_sql("incremental_touched", {"events": self.rel.events, "new_exposures": NEW_X})
            extra["touched_from"] = first_new
        self.run("candidates", f"CREATE OR REPLACE TEMP TABLE {CANDIDATES} AS " + render_sql(
            "incremental_candidates", {"events": self.rel.events, "ingested_filter": new, "touched_events": touched}),
            extra)
        first_event = self.scalar(f"SELECT min(ts) FROM {CANDIDATES}")
        if first_event is None:
            self.exec("new_orders", f"CREATE OR REPLACE TEMP TABLE {NEW_ORDERS} (order_id VARCHAR)")
            return
        self.run("anchor", f"CREATE OR REPLACE TEMP TABLE {ANCHORED} AS " + render_sql(
            "incremental_anchor", {"candidates": CANDIDATES, "exposures": self.rel.exposures,
                                   "anchor_reason": ANCHOR_REASON}),
            {"anchor_from": first_event - self.params.values()["max_window"]})
        events = self.t["events"]
        self.exec("new_orders", f"""CREATE OR REPLACE TEMP TABLE {NEW_ORDERS} AS
            SELECT DISTINCT order_id FROM {ANCHORED} WHERE type = 'order' AND order_id IS NOT NULL
            EXCEPT SELECT order_id FROM {events} WHERE type = 'order'""")
        if watermark is not None:
            self.exec("events_replace", f"DELETE FROM {events} WHERE event_id IN (SELECT event_id FROM {CANDIDATES})")
        self.exec("events_insert", f"INSERT INTO {events} SELECT * FROM {ANCHORED}")

    def _refunds(self, watermark: dt.datetime | None, marks: dict[str, Any]) -> None:
        sql = render_sql("incremental_refunds", {
            "events": self.rel.events, "events_state": self.t["events"], "new_orders": NEW_ORDERS,
            "refunds_state": self.t["refunds"],
            "new_refund": "r.ingested_at > $watermark" if watermark is not None else "TRUE"})
        self.run("refunds", f"INSERT INTO {self.t['refunds']} {sql}", marks)

    def _pre(self, marks: dict[str, Any], watermark: dt.datetime | None) -> None:
        """The covariates (``seen``'s pre_* columns, kept for users in one arm): late pre-period events
        of users whose first exposure stayed add up; users whose first exposure is new or moved (a
        late, earlier exposure; ``MOVED``, made by :meth:`_exposures`) are computed from their events."""
        seen = self.t["seen"]
        if watermark is not None:
            bounds = self.scalar(f"SELECT [min(ts), max(ts)] FROM {self.rel.events} WHERE ingested_at > ? "
                                 f"AND {_EVENT_TYPES}", [watermark])
            if bounds and bounds[0] is not None:
                # an event id ingested before (a re-sent row) is already counted; only users first
                # exposed after the earliest late event can have it in their pre-period
                single = (f"(SELECT * FROM {seen} ANTI JOIN {self.t['multi']} USING (user_id) "
                          "WHERE first_exposure > $pre_from)")
                late = render_sql("incremental_pre", {"users": single, "events": self.rel.events, "ingested_filter": (
                    "\n      AND ingested_at > $watermark\n      AND event_id NOT IN "
                    f"(SELECT event_id FROM {self.rel.events} WHERE ingested_at <= $watermark)")})
                added = ", ".join(f"{c} = {seen}.{c} + l.{c}" for c in PRE)
                self.run("pre_late", f"""UPDATE {seen} SET {added} FROM ({late}) l WHERE l.user_id = {seen}.user_id
                      AND l.user_id NOT IN (SELECT user_id FROM {MOVED})""",
                         {**marks, "pre_from": bounds[0], "pre_to": bounds[1] + dt.timedelta(microseconds=1)})
        span = self.exec("pre_moved", f"SELECT min(first_exposure), max(first_exposure) FROM {MOVED}").fetchall()[0]
        if span[0] is None:
            return
        moved = render_sql("incremental_pre", {"users": MOVED, "events": self.rel.events, "ingested_filter": ""})
        computed = ", ".join(f"{c} = COALESCE(p.{c}, 0)" for c in PRE)
        self.run("pre_moved", f"""UPDATE {seen} s SET {computed}
            FROM {MOVED} m LEFT JOIN ({moved}) p ON p.user_id = m.user_id
            WHERE s.user_id = m.user_id AND s.arm = m.arm""",
                 {"pre_from": span[0] - self.params.lookback, "pre_to": span[1]})

    def update_segments(self, *, stored: bool) -> None:
        """Users rows ingested after the state's users mark lower the stored segments (a min over the
        rows: the least of the stored one and the new rows'); rows at or before it are checked unchanged
        (:meth:`stored`). A first build (not ``stored``) read every user's rows already
        (``segments_new``). Runs on every refresh, new log rows or not: the mark moves on."""
        mark = self.scalar(f"SELECT max(ingested_at) FROM {self.rel.users}")
        if stored and mark is not None and mark != self.users_mark:
            after = "TRUE" if self.users_mark is None else "ingested_at > ?"
            new = (f"(SELECT user_id, min(segment) AS segment FROM {self.rel.users} WHERE {after} "
                   "GROUP BY user_id HAVING min(segment) IS NOT NULL)")
            for part in ("seen", "texts"):
                table = self.t[part]
                self.exec("segments_late", f"UPDATE {table} SET segment = least({table}.segment, n.segment) "
                                           f"FROM {new} n WHERE n.user_id = {table}.user_id",
                          [] if self.users_mark is None else [self.users_mark])
        self.exec("meta", f"UPDATE {self.t['meta']} SET users_mark = ?, users_rows = ?", [mark, self.users_rows(mark)])

    def drop_temp(self) -> None:
        for name in _TEMP:
            self.exec("drop", f"DROP TABLE IF EXISTS {name}")

def _read_only(con: duckdb.DuckDBPyConnection) -> bool:
    return str(con.execute("SELECT current_setting('access_mode')").fetchall()[0][0]).lower() == "read_only"


def prepare_per_user(spec: Spec, con: Any, engine: Engine, params: q.QueryParams,
                     rel: q.Relations, *, texts: bool = True) -> tuple[Refresh, State | None]:
    """Refresh (or build) the stored state and derive ``rel.seen`` / ``rel.per_user`` from it.
    Returns ``full`` and no state where the state cannot be used; the caller runs the full path."""
    if not isinstance(con, duckdb.DuckDBPyConnection):
        raise AnalysisError("incremental refresh needs the DuckDB warehouse (not Spark or raw log files): "
                            "run a full analysis")
    if params.as_of is not None:
        return Refresh("full", "--as-of analyses what was known then"), None
    if _read_only(con) or not has_table(con, "analysis_state"):
        return Refresh("full", "the warehouse is open read-only"), None
    state = State(con, spec, params, rel)
    digest = spec_hash(spec, params, rel)
    new_mark = state.latest_ingested()
    with transaction(con):
        watermark, why = state.stored(digest)
        if watermark is None:
            state.create()
        new_rows = 0
        if new_mark is not None and (watermark is None or new_mark > watermark):
            new_rows = state.update(watermark, new_mark, digest)
        elif watermark is not None:
            state.update_segments(stored=True)
        state.drop_temp()
    state.materialize(engine, texts=texts)
    timings = tuple(state.timings)
    if watermark is None:
        return Refresh("built", why, watermark=new_mark, timings=timings), state
    return Refresh("refreshed", new_rows=new_rows, watermark=max(watermark, new_mark or watermark),
                   timings=timings), state


def per_user_tables(spec: Spec, con: Any, engine: Engine, params: q.QueryParams, rel: q.Relations, *,
                    texts: bool, state: StateMode, log: list[Refresh] | None) -> State | None:
    """The stage tables for ``analyze``: from the stored state (``state="auto"``, refreshed first)
    where it can be used, else by stages.materialize_per_user; ``log`` receives what was done."""
    refresh, stored = (Refresh("full", "state off"), None) if state == "off" else \
        prepare_per_user(spec, con, engine, params, rel, texts=texts)
    if log is not None:
        log.append(refresh)
    if stored is None:
        materialize_per_user(engine, params, rel, texts=texts)
    return stored


def drop_state(con: duckdb.DuckDBPyConnection, experiment: str) -> None:
    """Forget an experiment's stored state (the next analysis rebuilds it)."""
    with transaction(con):
        for name in state_tables(experiment).values():
            con.execute(f"DROP TABLE IF EXISTS {name}")
        con.execute("DELETE FROM analysis_state WHERE experiment = ?", [experiment])

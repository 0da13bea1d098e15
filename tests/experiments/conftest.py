"""Fixtures for the analysis tests: small warehouse files in tmp_path holding every trap of
docs/interface.md, Metrics, plus a random log generator and an independent pandas attribution to check the
SQL against.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from abkit.schema import KEYED_TABLES
from abkit.spec import Spec, parse_spec
from abkit.warehouse import assign_user_keys, connect

T = dt.datetime


def ts(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s)


def write_logs(db: Path, *, exposures: pd.DataFrame, events: pd.DataFrame,
               users: pd.DataFrame | None = None, reasons: pd.DataFrame | None = None,
               items: pd.DataFrame | None = None) -> None:
    """Insert rows straight into the warehouse tables (the ingest command is tested elsewhere) and
    assign their user keys as ingest does.

    exposures: event_id, ts, experiment, user_id, item_id, arm, [reason_id], [platform], [ingested_at]
    events: event_id, ts, user_id, item_id, type, [revenue], [order_id], [ingested_at]
    """
    con = connect(db)
    try:
        x = exposures.copy()
        for col, default in (("reason_id", None), ("platform", None), ("ingested_at", None)):
            if col not in x:
                x[col] = default
        x["ingested_at"] = x["ingested_at"].fillna(x["ts"] + pd.Timedelta(minutes=5))
        x["reason_id"] = x["reason_id"].astype(object)
        x["platform"] = x["platform"].astype(object)
        con.register("x_df", x)
        con.execute("""
            INSERT INTO exposures (event_id, ts, experiment, user_id, item_id, arm, reason_id, extra, ingested_at)
            SELECT event_id, ts, experiment, user_id, item_id, arm, reason_id,
                   CASE WHEN platform IS NULL THEN NULL ELSE MAP(['platform'], [platform]) END,
                   ingested_at
            FROM x_df""")
        e = events.copy()
        for col in ("revenue", "order_id", "ingested_at"):
            if col not in e:
                e[col] = None
        e["ingested_at"] = e["ingested_at"].fillna(e["ts"] + pd.Timedelta(minutes=5))
        e["order_id"] = e["order_id"].astype(object)
        e["revenue"] = e["revenue"].astype(float)
        con.register("e_df", e)
        con.execute("""
            INSERT INTO events (event_id, ts, user_id, item_id, type, revenue, order_id, ingested_at)
            SELECT event_id, ts, user_id, item_id, type, revenue, order_id, ingested_at FROM e_df""")
        if users is not None:
            u = users.copy()
            if "platform" not in u:
                u["platform"] = None
            con.register("u_df", u)
            con.execute("""
                INSERT INTO users (user_id, segment, extra, ingested_at)
                SELECT user_id, segment,
                       CASE WHEN platform IS NULL THEN NULL ELSE MAP(['platform'], [platform]) END, now()
                FROM u_df""")
        if reasons is not None:
            con.register("r_df", reasons)
            con.execute("""
                INSERT INTO reasons (reason_id, experiment, arm, item_id, segment, text, ingested_at)
                SELECT reason_id, experiment, arm, item_id, segment, text, now() FROM r_df""")
        if items is not None:
            con.register("i_df", items)
            con.execute("""
                INSERT INTO items (item_id, category, brand, title, price, discount, attributes, ingested_at)
                SELECT item_id, category, brand, title, price, discount, attributes, now() FROM i_df""")
        for table in KEYED_TABLES:  # as ingest does: the analysis then runs on the integer user keys
            assign_user_keys(con, table)
    finally:
        con.close()


TRAP_SPEC: dict[str, Any] = {
    "key": "exp1",
    "arms": [{"name": "control", "weight": 0.5}, {"name": "treat", "weight": 0.5}],
    "start": "2026-11-01", "end": "2026-11-03", "primary_metric": "ctr",
}

# Hand-computed per-user rows of the trap logs below (see the comments there for why).
TRAP_EXPECTED = pd.DataFrame([
    # user, arm, exposures, clicks, carts, orders, revenue, net_revenue, refunded_orders, converted,
    # pre_clicks, pre_carts, pre_orders, pre_revenue, pre_converted
    ("u1", "control", 3, 2, 1, 1, 100.0, 70.0, 1, 1, 1, 0, 1, 40.0, 1),
    ("u2", "treat", 1, 1, 0, 2, 25.0, 25.0, 0, 1, 1, 0, 0, 0.0, 0),
    ("u4", "treat", 1, 2, 0, 0, 0.0, 0.0, 0, 0, 0, 0, 0, 0.0, 0),
    ("u5", "control", 2, 0, 0, 0, 0.0, 0.0, 0, 0, 0, 0, 0, 0.0, 0),
], columns=["user_id", "arm", "exposures", "clicks", "carts", "orders", "revenue", "net_revenue",
            "refunded_orders", "converted", "pre_clicks", "pre_carts", "pre_orders", "pre_revenue",
            "pre_converted"])


def trap_logs() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    X = [  # event_id, ts, experiment, user, item, arm, platform
        # u1 (control): two exposures of A 30 min apart, one of B
        ("x1", "2026-11-01 10:00", "exp1", "u1", "A", "control", "ios"),
        ("x2", "2026-11-01 10:30", "exp1", "u1", "A", "control", "android"),
        ("x3", "2026-11-01 12:00", "exp1", "u1", "B", "control", "android"),
        # u2 (treat): one in-window exposure; one at `end` (exclusive) and one before `start`
        ("x4", "2026-11-02 23:30", "exp1", "u2", "D", "treat", "android"),
        ("x5", "2026-11-03 00:00", "exp1", "u2", "E", "treat", "android"),
        ("x6", "2026-10-31 23:59", "exp1", "u2", "D", "treat", "android"),
        # u3: seen in both arms -> excluded and counted
        ("x7", "2026-11-01 09:00", "exp1", "u3", "A", "control", None),
        ("x8", "2026-11-02 09:00", "exp1", "u3", "A", "treat", None),
        # u4 (treat) also in another experiment on item G
        ("x9", "2026-11-01 08:00", "exp1", "u4", "F", "treat", "ios"),
        ("x10", "2026-11-01 08:00", "exp2", "u4", "G", "b", "ios"),
        # u5 (control): exposures, no events; platform from the users table
        ("x11", "2026-11-01 07:00", "exp1", "u5", "H", "control", None),
        ("x12", "2026-11-02 07:00", "exp1", "u5", "H", "control", None),
        # u6: only outside the window; u7: only another experiment; u8: an arm the spec lacks
        ("x13", "2026-10-31 12:00", "exp1", "u6", "A", "control", None),
        ("x14", "2026-11-01 12:00", "exp2", "u7", "A", "b", None),
        ("x15", "2026-11-01 12:00", "exp1", "u8", "A", "ghost", None),
    ]
    exposures = pd.DataFrame(X, columns=["event_id", "ts", "experiment", "user_id", "item_id", "arm", "platform"])
    E = [  # event_id, ts, user, item, type, revenue, order_id
        ("c1", "2026-11-01 10:45", "u1", "A", "click", None, None),  # after two exposures: once
        ("c2", "2026-11-01 11:40", "u1", "A", "click", None, None),  # 70 min after the last A: no
        ("c3", "2026-11-01 13:00", "u1", "B", "click", None, None),  # exactly t + 1h: yes
        ("c4", "2026-11-01 10:50", "u1", "C", "click", None, None),  # organic, C never shown: no
        ("k1", "2026-11-01 10:20", "u1", "A", "cart", None, None),   # cart within 1h: yes
        ("o1", "2026-11-02 09:00", "u1", "A", "order", 100.0, "O1"),  # within 24h of 10:30: yes
        ("o2", "2026-11-02 12:00:01", "u1", "B", "order", 50.0, "O2"),  # 1 s past 24h: no
        ("r1", "2026-11-03 10:00", "u1", "A", "refund", 30.0, "O1"),  # refund of an attributed order
        ("r2", "2026-11-03 10:00", "u1", "B", "refund", 50.0, "O2"),  # refund of an unattributed one
        ("p1", "2026-10-25 10:00", "u1", "Z", "click", None, None),   # pre-period click
        ("p2", "2026-10-20 10:00", "u1", "Z", "order", 40.0, "O0"),   # pre-period order (in 14 d)
        ("p3", "2026-10-10 10:00", "u1", "Z", "click", None, None),   # before the lookback: no
        ("c5", "2026-11-03 00:20", "u2", "D", "click", None, None),   # after `end`, in window of x4
        ("c6", "2026-11-03 00:10", "u2", "E", "click", None, None),   # only anchor is outside: no
        ("c7", "2026-11-01 00:10", "u2", "D", "click", None, None),   # before u2's first exposure: pre
        ("o3", "2026-11-03 20:00", "u2", "D", "order", 25.0, "O3"),
        ("o4", "2026-11-03 21:00", "u2", "D", "order", None, "O4"),   # null revenue counts as 0
        ("c8", "2026-11-01 08:05", "u4", "F", "click", None, None),
        ("c8", "2026-11-01 08:05", "u4", "F", "click", None, None),   # duplicated row: once
        ("c9", "2026-11-01 08:06", "u4", "F", "click", None, None),
        ("c10", "2026-11-01 08:10", "u4", "G", "click", None, None),  # G shown in exp2 only: no
        ("c11", "2026-11-01 09:10", "u3", "A", "click", None, None),  # excluded user
        ("c12", "2026-11-01 12:10", "u8", "A", "click", None, None),  # unknown-arm user
    ]
    events = pd.DataFrame(E, columns=["event_id", "ts", "user_id", "item_id", "type", "revenue", "order_id"])
    users = pd.DataFrame({"user_id": ["u1", "u2", "u4", "u5"], "segment": ["student", "parent", None, "student"],
                          "platform": [None, None, None, "web"]})
    for df in (exposures, events):
        df["ts"] = pd.to_datetime(df["ts"], format="ISO8601")
    return exposures, events, users


@pytest.fixture
def trap_spec() -> Spec:
    return parse_spec(dict(TRAP_SPEC))


@pytest.fixture
def trap_db(tmp_path: Path) -> Path:
    """A warehouse holding every trap of docs/interface.md, Metrics (see `trap_logs`)."""
    db = tmp_path / "trap.duckdb"
    exposures, events, users = trap_logs()
    write_logs(db, exposures=exposures, events=events, users=users)
    return db


def random_logs(n_users: int, seed: int, *, start: str = "2026-11-01", days: int = 4,
                arms: tuple[str, ...] = ("control", "treat"), effect: float = 0.0
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Random logs with heavy-tailed exposures, clicks at random delays (some late), orders,
    refunds, organic events, pre-period events, multi-arm users and another experiment."""
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp(start)
    users = np.array([f"u{i:05d}" for i in range(n_users)])
    arm_idx = rng.integers(0, len(arms), n_users)
    n_exp = rng.geometric(0.25, n_users)
    uid = np.repeat(np.arange(n_users), n_exp)
    m = len(uid)
    arm = np.array(arms)[arm_idx[uid]]
    flip = rng.random(m) < 0.004  # a few exposures in the wrong arm -> multi-arm users
    arm = np.where(flip, np.array(arms)[(arm_idx[uid] + 1) % len(arms)], arm)
    minutes = rng.integers(-6 * 60, (days + 1) * 24 * 60, m)  # some before start / after end
    x_ts = t0 + pd.to_timedelta(minutes, unit="min")
    item = np.array([f"i{j:03d}" for j in rng.integers(0, 40, m)])
    exp = np.where(rng.random(m) < 0.08, "other", "exp1")
    exposures = pd.DataFrame({"event_id": [f"x{i}" for i in range(m)], "ts": x_ts, "experiment": exp,
                              "user_id": users[uid], "item_id": item, "arm": arm,
                              "platform": np.where(rng.random(m) < 0.5, "ios", "android")})
    # clicks anchored on random exposures with delays up to 2 h (half outside the 1 h window)
    p_click = 0.3 * np.where(arm_idx[uid] == 1, 1 + effect, 1.0)
    ci = np.flatnonzero(rng.random(m) < p_click)
    c_ts = x_ts[ci] + pd.to_timedelta(rng.integers(0, 7200, len(ci)), unit="s")
    clicks = pd.DataFrame({"ts": c_ts, "user_id": users[uid[ci]], "item_id": item[ci], "type": "click"})
    carts = clicks.sample(frac=0.3, random_state=seed).assign(type="cart")
    carts["ts"] += pd.to_timedelta(rng.integers(0, 3600, len(carts)), unit="s")
    orders = clicks.sample(frac=0.2, random_state=seed + 1).assign(type="order")
    orders["ts"] += pd.to_timedelta(rng.integers(0, 30 * 3600, len(orders)), unit="s")
    orders["revenue"] = np.round(rng.lognormal(3, 1, len(orders)), 2)
    orders.loc[orders.sample(frac=0.05, random_state=seed).index, "revenue"] = np.nan
    orders["order_id"] = [f"O{i}" for i in range(len(orders))]
    refunds = orders.sample(frac=0.1, random_state=seed + 2).assign(type="refund")
    refunds["ts"] += pd.Timedelta(days=2)
    refunds["revenue"] = np.round(refunds["revenue"].fillna(0) * 0.5, 2)
    # organic and pre-period events on random items at random times
    k = n_users * 2
    org = pd.DataFrame({
        "ts": t0 + pd.to_timedelta(rng.integers(-20 * 24 * 60, days * 24 * 60, k), unit="min"),
        "user_id": users[rng.integers(0, n_users, k)],
        "item_id": np.array([f"i{j:03d}" for j in rng.integers(0, 60, k)]),
        "type": rng.choice(["click", "cart", "order"], k, p=[0.6, 0.25, 0.15]),
    })
    is_order = org["type"] == "order"
    org.loc[is_order, "revenue"] = np.round(rng.lognormal(3, 1, int(is_order.sum())), 2)
    org.loc[is_order, "order_id"] = [f"P{i}" for i in range(int(is_order.sum()))]
    events = pd.concat([clicks, carts, orders, refunds, org], ignore_index=True)
    events["event_id"] = [f"e{i}" for i in range(len(events))]
    dup = events.sample(n=min(20, len(events)), random_state=seed)  # re-sent rows, same ids
    events = pd.concat([events, dup], ignore_index=True)
    return exposures, events


def pandas_per_user(exposures: pd.DataFrame, events: pd.DataFrame, spec: Spec,
                    as_of: pd.Timestamp | None = None) -> pd.DataFrame:
    """An independent, brute-force pandas implementation of docs/interface.md, Metrics (for tests only):
    every (event, exposure) pair of the same user and item, then filters."""
    start, end = (pd.Timestamp(t) for t in spec.window_utc())
    cw, ow, lb = (pd.Timedelta(w) for w in (spec.click_window, spec.order_window, spec.cuped_lookback))
    x = exposures[(exposures.experiment == spec.key) & (exposures.ts >= start) & (exposures.ts < end)]
    if as_of is not None:
        x = x[x.ts < as_of]
        events = events[events.ts < as_of]
    arms = x.groupby("user_id")["arm"].agg(["nunique", "first"])
    keep = arms.index[arms["nunique"] == 1]
    x = x[x.user_id.isin(keep)]
    users = x.groupby("user_id").agg(arm=("arm", "first"), exposures=("ts", "size"), first=("ts", "min"))
    if spec.max_exposures_per_user is not None:
        users = users[users.exposures <= spec.max_exposures_per_user]
    ev = events.drop_duplicates("event_id")
    ev = ev[ev.user_id.isin(users.index)].copy()
    ev["revenue"] = ev["revenue"].fillna(0.0)
    pairs = ev[ev.type.isin(["click", "cart", "order"])].merge(
        x[["user_id", "item_id", "ts"]].rename(columns={"ts": "x_ts"}), on=["user_id", "item_id"])
    win = pd.to_timedelta(np.where(pairs.type == "order", ow.value, cw.value))
    ok = (pairs.x_ts <= pairs.ts) & (pairs.ts <= pairs.x_ts + win)
    att = pairs[ok].drop_duplicates("event_id")
    out = users.copy()
    for t, col in (("click", "clicks"), ("cart", "carts"), ("order", "orders")):
        out[col] = att[att.type == t].groupby("user_id").size()
    out["revenue"] = att[att.type == "order"].groupby("user_id")["revenue"].sum()
    allev = events.drop_duplicates("event_id")
    refunds = allev[(allev.type == "refund")]
    att_orders = att[att.type == "order"]
    ref_by_order = refunds.groupby("order_id")["revenue"].apply(lambda s: s.fillna(0).sum())
    uo = att_orders[["user_id", "order_id"]].drop_duplicates()
    uo = uo[uo.order_id.isin(ref_by_order.index)]
    out["refunded"] = uo.assign(r=uo.order_id.map(ref_by_order)).groupby("user_id")["r"].sum()
    out["refunded_orders"] = att_orders[att_orders.order_id.isin(ref_by_order.index)].groupby("user_id").size()
    pre = ev.merge(users[["first"]], left_on="user_id", right_index=True)
    pre = pre[(pre.ts >= pre["first"] - lb) & (pre.ts < pre["first"]) & pre.type.isin(["click", "cart", "order"])]
    for t, col in (("click", "pre_clicks"), ("cart", "pre_carts"), ("order", "pre_orders")):
        out[col] = pre[pre.type == t].groupby("user_id").size()
    out["pre_revenue"] = pre[pre.type == "order"].groupby("user_id")["revenue"].sum()
    out = out[out.arm.isin(spec.arm_names)].fillna(0)
    out["net_revenue"] = out["revenue"] - out["refunded"]
    out["converted"] = (out["orders"] > 0).astype(int)
    out["pre_converted"] = (out["pre_orders"] > 0).astype(int)
    cols = TRAP_EXPECTED.columns[1:]
    return out.reset_index()[["user_id", *cols]].sort_values("user_id").reset_index(drop=True)


@pytest.fixture
def random_world(tmp_path: Path) -> Callable[..., tuple[Path, pd.DataFrame, pd.DataFrame]]:
    """Factory: write random logs to a fresh warehouse; returns (db, exposures, events)."""

    def make(n_users: int = 400, seed: int = 1, **kw: Any) -> tuple[Path, pd.DataFrame, pd.DataFrame]:
        db = tmp_path / f"random_{seed}_{n_users}.duckdb"
        exposures, events = random_logs(n_users, seed, **kw)
        write_logs(db, exposures=exposures, events=events)
        return db, exposures, events

    return make


@pytest.fixture
def trap_expected() -> pd.DataFrame:
    """Hand-computed per-user rows of the trap logs."""
    return TRAP_EXPECTED.copy()


@pytest.fixture
def spec_from() -> Callable[..., Spec]:
    """Factory: the trap spec with keys overridden, e.g. spec_from(end="2026-11-04")."""
    return lambda **kw: parse_spec({**TRAP_SPEC, **kw})


@pytest.fixture
def pandas_reference() -> Callable[..., pd.DataFrame]:
    """The independent pandas implementation of docs/interface.md, Metrics (`pandas_per_user`)."""
    return pandas_per_user


@pytest.fixture
def log_writer() -> Callable[..., None]:
    """`write_logs`: insert exposures/events/users/reasons/items rows into a warehouse file."""
    return write_logs

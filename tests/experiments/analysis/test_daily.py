"""Daily trends per arm (experiments/daily.py): local-day boundaries, hand-computed counts on the
trap logs, and totals that add up to the per-user table."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from abkit.spec import parse_spec
from abkit.warehouse import connect
from experiments.analysis.analyze import analyze
from experiments.analysis.block_sql import block_query
from experiments.analysis.daily import daily_block, daily_frame
from experiments.analysis.engines import DuckDBEngine
from experiments.analysis.stages import build_per_user, per_user_frame

SPEC = {"key": "d1", "arms": [{"name": "control", "weight": 0.5}, {"name": "treat", "weight": 0.5}],
        "start": "2026-11-01", "end": "2026-11-04", "primary_metric": "ctr"}


def _frame(db, spec, **kw) -> pd.DataFrame:
    con = connect(db)
    try:
        params = build_per_user(spec, con, **kw)
        df = daily_frame(spec, DuckDBEngine(con), params)
    finally:
        con.close()
    df["day"] = pd.to_datetime(df["day"]).dt.strftime("%Y-%m-%d")
    return df.set_index(["arm", "day"])


def _logs(rows_x, rows_e):
    x = pd.DataFrame(rows_x, columns=["event_id", "ts", "user_id", "item_id", "arm"]).assign(experiment="d1")
    e = pd.DataFrame(rows_e, columns=["event_id", "ts", "user_id", "item_id", "type"])
    for df in (x, e):
        df["ts"] = pd.to_datetime(df["ts"])
    return x, e


@pytest.fixture
def boundary_db(tmp_path, log_writer):
    x, e = _logs(
        [("x1", "2026-11-01 15:59:00", "u1", "A", "control"),   # 23:59 in Shanghai: day 11-01
         ("x2", "2026-11-01 16:00:00", "u2", "A", "control"),   # 00:00 in Shanghai: day 11-02
         ("x3", "2026-11-02 04:30:00", "u1", "B", "control"),   # New York: 23:30 EST on 11-01 (after DST ended)
         ("x4", "2026-11-01 04:30:00", "u3", "B", "treat")],    # New York: 00:30 EDT on 11-01
        [("c1", "2026-11-01 16:10:00", "u1", "A", "click"),     # anchored on x1: counts on x1's day
         ("c2", "2026-11-01 16:05:00", "u2", "A", "click")],
    )
    db = tmp_path / "boundary.duckdb"
    log_writer(db, exposures=x, events=e)
    return db


def test_shanghai_day_boundaries(boundary_db):
    spec = parse_spec({**SPEC, "start": "2026-11-01", "end": "2026-11-04", "timezone": "Asia/Shanghai"})
    df = _frame(boundary_db, spec)
    assert df.loc[("control", "2026-11-01"), ["new_users", "exposures", "clicks"]].tolist() == [1, 1, 1]
    # x2 at 16:00Z and x3 are on 11-02 local; c1 (16:10Z, local 11-02) stays with its anchor x1's day
    assert df.loc[("control", "2026-11-02"), ["new_users", "exposures", "clicks"]].tolist() == [1, 2, 1]
    assert ("control", "2026-11-03") not in df.index


def test_new_york_dst_boundaries(boundary_db):
    spec = parse_spec({**SPEC, "start": "2026-10-31", "end": "2026-11-03", "timezone": "America/New_York"})
    df = _frame(boundary_db, spec)
    # x4 04:30Z = 00:30 EDT (UTC-4) on 11-01; x3 04:30Z on 11-02 = 23:30 EST (UTC-5) on 11-01
    assert df.loc[("treat", "2026-11-01"), "exposures"] == 1
    assert df.loc[("control", "2026-11-01"), "exposures"] == 3  # x1 11:59, x2 12:00 EST, x3 23:30 EST
    assert df.index.get_level_values("day").unique().tolist() == ["2026-11-01"]


def test_trap_logs_hand_computed(trap_db, spec_from):
    """UTC days on the trap logs of conftest (window 11-01..11-03)."""
    df = _frame(trap_db, spec_from())
    cols = ["new_users", "exposures", "clicks", "orders", "cum_new_users", "cum_exposures", "cum_clicks", "cum_orders"]
    # control: u1 x1 x2 x3 + u5 x11 on 11-01 (clicks c1 c3, order o1 on x2); u5 x12 on 11-02
    assert df.loc[("control", "2026-11-01"), cols].tolist() == [2, 4, 2, 1, 2, 4, 2, 1]
    assert df.loc[("control", "2026-11-02"), cols].tolist() == [0, 1, 0, 0, 2, 5, 2, 1]
    # treat: u4 x9 on 11-01 (c8, c9); u2 x4 at 23:30 on 11-02, whose click c5 (11-03 00:20, after
    # `end`) and orders o3, o4 (11-03) count on 11-02, the anchoring exposure's day
    assert df.loc[("treat", "2026-11-01"), cols].tolist() == [1, 1, 2, 0, 1, 1, 2, 0]
    assert df.loc[("treat", "2026-11-02"), cols].tolist() == [1, 1, 1, 2, 2, 2, 3, 2]


def test_block_rows_shape_and_values(trap_db, spec_from):
    spec = spec_from()
    con = connect(trap_db)
    try:
        rows = daily_block(spec, DuckDBEngine(con), build_per_user(spec, con))
    finally:
        con.close()
    json.dumps(rows, allow_nan=False)
    assert all({"date", "arm", "metric", "value", "cumulative"} <= set(r) for r in rows)
    by = {(r["arm"], r["date"], r["metric"]): r for r in rows}
    assert by[("treat", "2026-11-02", "ctr")]["value"] == 1.0
    assert by[("treat", "2026-11-02", "ctr")]["cumulative"] == pytest.approx(3 / 2)
    assert by[("control", "2026-11-02", "ctr")]["value"] == 0.0
    assert by[("control", "2026-11-02", "ctr")]["cumulative"] == pytest.approx(2 / 5)
    assert by[("control", "2026-11-01", "new_users")]["value"] == 2
    assert {r["metric"] for r in rows} == {"ctr", "new_users", "exposures", "clicks", "orders"}
    assert {r["arm"] for r in rows} == {"control", "treat"}  # u8's arm 'ghost' is not in the spec


@pytest.mark.parametrize("attribution", ["join", "window"])
def test_totals_match_the_per_user_table(random_world, spec_from, attribution):
    db, _, _ = random_world(n_users=400, seed=3)
    spec = spec_from(end="2026-11-05", timezone="Asia/Shanghai")
    df = _frame(db, spec, attribution=attribution)
    con = connect(db)
    try:
        pu = per_user_frame(spec, con, attribution=attribution)
    finally:
        con.close()
    totals = df.groupby(level="arm")[["new_users", "exposures", "clicks", "orders"]].sum()
    want = pu.groupby("arm").agg(new_users=("user_id", "size"), exposures=("exposures", "sum"),
                                 clicks=("clicks", "sum"), orders=("orders", "sum"))
    pd.testing.assert_frame_equal(totals.sort_index(), want.sort_index(), check_dtype=False, check_names=False)
    last = df.groupby(level="arm").tail(1).droplevel("day")
    assert (last["cum_clicks"] == want["clicks"]).all() and (last["cum_exposures"] == want["exposures"]).all()


def test_analyze_result_has_daily_without_text_metrics(trap_db, spec_from):
    con = connect(trap_db)
    try:
        d = analyze(spec_from(), con, text_metrics=False).to_json()
    finally:
        con.close()
    json.dumps(d, allow_nan=False)
    assert {r["arm"] for r in d["daily"]} == {"control", "treat"}
    assert "text_features" not in d and "samples" not in d


def test_spark_dialect_for_local_days(spec_from):
    from experiments.analysis.queries import QueryParams

    spec = spec_from(timezone="Asia/Shanghai")
    p = QueryParams.from_spec(spec)
    spark = block_query("daily_stats", p, values={"timezone": spec.timezone}, engine="spark")
    duck = block_query("daily_stats", p, values={"timezone": spec.timezone})
    assert "from_utc_timestamp(s.minute, $timezone)" in spark.sql and "timezone('UTC', s.minute)" not in spark.sql
    assert "timezone($timezone, timezone('UTC', s.minute))" in duck.sql and "from_utc_timestamp(s.minute" not in duck.sql
    assert spark.params["timezone"] == "Asia/Shanghai"
    with pytest.raises(ValueError, match="no local-time SQL"):
        block_query("daily_stats", p, values={"timezone": "UTC"}, engine="oracle")

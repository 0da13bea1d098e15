"""The stage tables the blocks read instead of re-attributing (stages.materialize_per_user)."""

from __future__ import annotations

import pandas as pd
import pytest

from abkit.warehouse import connect
from experiments.analysis import queries as q
from experiments.analysis.engines.duckdb_engine import DuckDBEngine
from experiments.analysis.stages import build_per_user


def _anchors_by_hand(exposures: pd.DataFrame, attributed: pd.DataFrame, spec) -> pd.DataFrame:
    """For each attributed event: the latest exposure of the same (user, item) at or before it in
    the window (ties: the larger reason_id; a missing reason sorts first), by brute force."""
    start, end = spec.window_utc()
    x = exposures[(exposures["experiment"] == spec.key) & (exposures["ts"] >= start) & (exposures["ts"] < end)]
    m = attributed[["event_id", "user_id", "item_id", "ts"]].merge(x[["user_id", "item_id", "ts", "reason_id"]],
                                                                    on=["user_id", "item_id"], suffixes=("", "_x"))
    m = m[m["ts_x"] <= m["ts"]].assign(r=lambda d: d["reason_id"].fillna(""))
    best = m.sort_values(["ts_x", "r"]).groupby("event_id").tail(1)
    return best.set_index("event_id")[["ts_x", "reason_id"]].sort_index()


def _with_reasons(con) -> None:
    """Reasons on two thirds of the exposures, and a second exposure at the same instant with another
    (or no) reason for one in five: ties the anchor must break by reason_id."""
    con.execute("""UPDATE exposures SET reason_id = CASE WHEN hash(event_id) % 3 = 0 THEN NULL
                                                        ELSE 'r' || CAST(hash(event_id) % 5 AS VARCHAR) END""")
    con.execute("""INSERT INTO exposures BY NAME
                   SELECT * REPLACE ('t' || event_id AS event_id,
                                     CASE WHEN hash(event_id) % 2 = 0 THEN 'r9' END AS reason_id)
                   FROM exposures WHERE hash(event_id || 't') % 5 = 0""")


@pytest.mark.parametrize("seed", [1, 2])
def test_anchors_are_the_latest_same_item_exposure(random_world, spec_from, seed):
    db, exposures, events = random_world(n_users=300, seed=seed)
    spec = spec_from(end="2026-11-04")
    con = connect(db)
    try:
        _with_reasons(con)
        tables = {}
        for mode in ("join", "window"):
            build_per_user(spec, con, attribution=mode)
            tables[mode] = con.execute(f"SELECT a.*, e.ts FROM {q.DEFAULT_RELATIONS.attributed} a "
                                       "JOIN (SELECT DISTINCT event_id, ts FROM events) e USING (event_id) ORDER BY event_id").df()
            per_user = con.execute(f"SELECT * FROM {q.DEFAULT_RELATIONS.per_user}").df()
        x = con.execute("SELECT experiment, user_id, item_id, ts, reason_id FROM exposures").df()
    finally:
        con.close()
    att = tables["join"]
    assert len(att) > 50 and att["event_id"].is_unique
    assert att["anchor_reason_id"].notna().any()
    want = _anchors_by_hand(x, att, spec)
    got = att.set_index("event_id")[["anchor_ts", "anchor_reason_id"]].sort_index()
    pd.testing.assert_series_equal(got["anchor_ts"], want["ts_x"], check_names=False)
    pd.testing.assert_series_equal(got["anchor_reason_id"], want["reason_id"], check_names=False)
    # both attribution formulations materialize the same table
    pd.testing.assert_frame_equal(tables["window"][att.columns], att, check_dtype=False)
    # each user's attributed events are what the per-user columns count, and the arm is the user's
    by_user = att.groupby("user_id")["type"].value_counts().unstack(fill_value=0)
    pu = per_user.set_index("user_id")
    for t, col in (("click", "clicks"), ("cart", "carts"), ("order", "orders")):
        assert (by_user.get(t, 0).reindex(pu.index, fill_value=0) == pu[col]).all(), col
    assert (att["arm"].to_numpy() == pu.loc[att["user_id"], "arm"].to_numpy()).all()


@pytest.mark.parametrize("max_exposures", [None, 6])
def test_excluded_users_complement_the_analysis_users(random_world, spec_from, max_exposures):
    db, _, _ = random_world(n_users=300, seed=4)
    spec = spec_from(end="2026-11-04", max_exposures_per_user=max_exposures)
    rel = q.DEFAULT_RELATIONS
    con = connect(db)
    try:
        build_per_user(spec, con)
        seen = set(con.execute(f"SELECT user_id FROM {rel.seen}").df()["user_id"])
        excluded = set(con.execute(f"SELECT user_id FROM {rel.excluded}").df()["user_id"])
        analysed = set(con.execute(f"SELECT user_id FROM {rel.per_user}").df()["user_id"])
        inline = con.execute(q.per_user(q.QueryParams.from_spec(spec), rel).sql,
                             q.per_user(q.QueryParams.from_spec(spec), rel).params).df()
        staged = con.execute(f"SELECT * FROM {rel.per_user}").df()
    finally:
        con.close()
    assert excluded and analysed and not excluded & analysed and excluded | analysed == seen
    # the inline attribution (simulate/aa.py, planning) and the staged one agree row for row
    key = ["user_id"]
    pd.testing.assert_frame_equal(inline.sort_values(key).reset_index(drop=True),
                                  staged.sort_values(key).reset_index(drop=True))


def test_user_texts_count_the_analysis_users_exposures(random_world, spec_from):
    db, _, _ = random_world(n_users=300, seed=5)
    spec = spec_from(end="2026-11-04")
    rel = q.DEFAULT_RELATIONS
    con = connect(db)
    try:
        _with_reasons(con)
        params = build_per_user(spec, con)
        DuckDBEngine(con).materialize(q.user_texts(params, rel), rel.user_texts)
        got = con.execute(f"SELECT arm, sum(exposures) AS n FROM {rel.user_texts} GROUP BY arm ORDER BY arm").df()
        want = con.execute(f"""SELECT u.arm, count(*) AS n FROM exposures x JOIN {rel.per_user} u USING (user_id)
            WHERE x.experiment = $e AND x.ts >= $s AND x.ts < $t AND x.reason_id IS NOT NULL
            GROUP BY u.arm ORDER BY u.arm""", {"e": spec.key, "s": params.window_start, "t": params.window_end}).df()
    finally:
        con.close()
    assert len(want) >= 2 and (want["n"] > 0).all()
    pd.testing.assert_frame_equal(got, want, check_dtype=False)

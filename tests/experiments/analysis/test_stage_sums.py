"""Stage-3 sums read in fewer passes: the frames equal those of the one-grouping-per-query SQL."""

from __future__ import annotations

import pandas as pd

from abkit.warehouse import connect
from experiments.analysis import queries as q
from experiments.analysis.block_sql import local_ts
from experiments.analysis.cumulative import stats_by_day_query
from experiments.analysis.engines.duckdb_engine import DuckDBEngine
from experiments.analysis.stages import build_per_user


def _same(got: pd.DataFrame, want: pd.DataFrame, keys: list[str]) -> None:
    assert list(got.columns) == list(want.columns)
    assert len(want) >= 2
    pd.testing.assert_frame_equal(got.sort_values(keys).reset_index(drop=True),
                                  want.sort_values(keys).reset_index(drop=True), check_exact=False, rtol=1e-12)


def test_grouping_sets_split_into_the_per_dimension_frames(random_world, spec_from):
    """Fails if a row's grouping set is told by its dimension being NULL (the users without a segment,
    and the dimension no row has, would land in the per-arm frame) or the caps are not bound."""
    db, _, _ = random_world(n_users=400, seed=7)
    spec = spec_from(end="2026-11-04")
    con = connect(db)
    try:
        con.execute("""INSERT INTO users BY NAME
                       SELECT user_id, CASE hash(user_id) % 3 WHEN 0 THEN 'a' WHEN 1 THEN 'b' END AS segment,
                              'test' AS source_file, TIMESTAMP '2026-10-01' AS ingested_at
                       FROM (SELECT DISTINCT user_id FROM exposures)""")
        build_per_user(spec, con, dimensions=("segment", "channel"))
        engine = DuckDBEngine(con)
        layout = q.stats_layout(spec.all_metrics, {"revenue": 50.0})
        overall, (segment, channel) = q.split_arm_stats(engine.frame(q.arm_stats_sets(layout, 2)), 2)
        want = [engine.frame(q.arm_stats(layout, dimension=d)) for d in (None, 0, 1)]
    finally:
        con.close()
    assert segment["dim_0"].isna().any() and channel["dim_1"].isna().all()
    _same(overall, want[0], ["arm"])
    _same(segment, want[1], ["arm", "dim_0"])
    _same(channel, want[2], ["arm"])


def test_cumulative_days_from_minutes_are_the_per_user_days(random_world, spec_from):
    """Kathmandu is UTC+05:45: a day boundary at 18:15 UTC. Fails if the users are summed per UTC
    hour or day before the conversion, or the day is taken from the UTC time."""
    db, _, _ = random_world(n_users=400, seed=8)
    spec = spec_from(end="2026-11-04", timezone="Asia/Kathmandu")
    con = connect(db)
    try:
        build_per_user(spec, con)
        engine = DuckDBEngine(con)
        layout = q.stats_layout([spec.primary_metric, "revenue_per_user"])
        got = engine.frame(stats_by_day_query(spec, layout, q.DEFAULT_RELATIONS, "duckdb"))
        want = engine.frame(q.arm_stats(layout, by_day=f"CAST({local_ts('u.first_exposure', 'duckdb')} AS DATE)",
                                        values={"timezone": spec.timezone}))
        near = con.execute("""SELECT count(*) FROM abkit_per_user
                              WHERE strftime(first_exposure, '%H:%M') BETWEEN '18:00' AND '18:14'""").fetchone()[0]
    finally:
        con.close()
    assert near > 0  # some users first seen in the quarter hour an hour-wise conversion would misplace
    _same(got, want, ["arm", "first_day"])

"""The health block: quarantined rows per table and freshness, read from the warehouse by the analysis."""

from __future__ import annotations

from abkit.spec import parse_spec
from abkit.warehouse import connect
from experiments.analysis.health import health_block

SPEC = parse_spec({"key": "reason_three_arm", "arms": [{"name": "control", "weight": 0.5}, {"name": "t", "weight": 0.5}],
                   "start": "2026-11-01", "end": "2026-11-08", "primary_metric": "ctr"})


def test_counts_and_latest_times(tmp_path):
    con = connect(tmp_path / "w.duckdb")
    try:
        con.execute("INSERT INTO quarantine VALUES ('events', 'e.csv', 3, 'x', 'unknown type', now()),"
                    " ('events', 'e.csv', 4, 'y', 'negative revenue', now()), ('exposures', 'x.csv', 9, 'z', 'no ts', now())")
        con.execute("""INSERT INTO exposures (event_id, ts, experiment, user_id, item_id, arm, reason_id, fallback,
                                              extra, source_file, ingested_at) VALUES
            ('e1', TIMESTAMP '2026-11-01 16:30:00', 'reason_three_arm', 'u1', 'i1', 'control', NULL, NULL, NULL, 'f',
             TIMESTAMP '2026-11-02 00:00:00'),
            ('e2', TIMESTAMP '2026-11-01 17:00:00', 'reason_three_arm', 'u1', 'i2', 'control', NULL, NULL, NULL, 'f',
             TIMESTAMP '2026-11-02 01:00:00'),
            ('e5', TIMESTAMP '2026-11-01 18:00:00', 'other_exp', 'u4', 'i1', 'control', NULL, NULL, NULL, 'f',
             TIMESTAMP '2026-11-02 02:00:00')""")
        health = health_block(con, SPEC)
    finally:
        con.close()
    assert health["quarantine"] == {"events": 2, "exposures": 1}
    assert health["latest_exposure"] == "2026-11-01T17:00:00Z"  # this experiment's, not other_exp's
    assert health["latest_ingested_at"] == {"exposures": "2026-11-02T02:00:00Z", "events": None}

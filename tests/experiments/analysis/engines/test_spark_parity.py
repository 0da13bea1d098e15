"""The same simulated experiment — raw Parquet logs with duplicates and bad rows — through
`abkit ingest` + DuckDB and through the engines that read the raw files (Spark, DuckDB over
Parquet): identical users per arm, sufficient statistics (float tolerance), lifts and p-values.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from abkit.spec import parse_spec
from abkit.warehouse import connect
from experiments.analysis import queries as q
from experiments.analysis.analyze import analyze
from experiments.analysis.engines import DuckDBEngine, Sources
from experiments.analysis.engines.base import drop_sources, source_relations
from experiments.analysis.engines.spark_engine import find_java
from experiments.analysis.sources import analyze_sources

pytestmark = [pytest.mark.slow, pytest.mark.spark]

SPEC_FIELDS = {
    "key": "spark_parity",
    "arms": [{"name": "control", "weight": 0.34}, {"name": "长文案", "weight": 0.33},
             {"name": "short", "weight": 0.33}],
    "comparisons": [["short", "长文案"]],
    "start": "2026-11-01", "end": "2026-11-05", "timezone": "Asia/Shanghai",
    "primary_metric": "ctr",
    "secondary_metrics": ["cvr", "conversion_rate", "orders_per_user", "revenue_per_user"],
    "guardrails": [{"metric": "revenue_per_user", "margin": 0.05}],
    "dimensions": ["platform"],
    "winsorize": 0.99,
    "max_exposures_per_user": 400,
    # regression adjustment and the explorer run their own SQL (cross-products, slices) on both engines
    "covariates": {"attributes": ["segment", "is_new"], "numeric_attributes": ["pre_sessions"]},
    "heterogeneity": {"dimensions": ["segment", "is_new"], "min_users": 20},
}
SPEC = parse_spec(SPEC_FIELDS)
# Reading timestamps needs the attribution windows, not every block: one metric, no dimensions,
# no adjustment or explorer (each Spark query costs seconds on 2 cores).
LEAN_SPEC = parse_spec({k: v for k, v in SPEC_FIELDS.items()
                        if k not in ("secondary_metrics", "guardrails", "dimensions", "covariates", "heterogeneity",
                                     "comparisons")})
BAD_EXPOSURES = [  # (change to a copied good row, the reason ingest quarantines it with)
    ({"event_id": None}, "missing event_id"),
    ({"ts": "not a time"}, "unparseable ts"),
    ({"ts": None}, "missing ts"),
    ({"user_id": ""}, "missing user_id"),
    ({"arm": None}, "missing arm"),
]
BAD_EVENTS = [
    ({"type": "purchase"}, "unknown event type"),
    ({"revenue": "-5"}, "negative revenue"),
    ({"revenue": "NaN"}, "revenue is not a number"),
    ({"revenue": "lots"}, "revenue is not a number"),
    ({"ts": "2026-13-45"}, "unparseable ts"),
    ({"item_id": None}, "missing item_id"),
]


@pytest.fixture(scope="module")
def java() -> str:
    try:
        return find_java()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"Spark parity test skipped: {exc}")


def _with_bad_rows(table: pa.Table, bad: list[tuple[dict, str]], rng: np.random.Generator, prefix: str) -> pd.DataFrame:
    """The log as text columns (as a serving system might write it) plus broken copies of real rows."""
    df = table.to_pandas()
    df["ts"] = df["ts"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    for col in ("revenue",):
        if col in df:
            df[col] = df[col].map(lambda v: None if pd.isna(v) else repr(float(v)))
    rows = []
    for i, (change, _) in enumerate(bad):
        for j in rng.choice(len(df), 3, replace=False):
            row = df.iloc[int(j)].to_dict()
            row.update(change)
            if change.get("event_id", "x") is not None:
                row["event_id"] = f"{prefix}bad{i}_{j}"
            rows.append(row)
    return pd.concat([df, pd.DataFrame(rows)], ignore_index=True)


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Simulated logs written as raw Parquet parts: 3 % duplicated rows, broken rows, a re-sent
    batch, ts as ISO text with Z, platform as an extra column, users with a tag column."""
    from abkit.world.catalog import make_catalog
    from experiments.simulate.pipeline import simulate_to_parquet
    from experiments.simulate.population import make_users
    from experiments.simulate.traffic import SimOptions, build_world

    out = tmp_path_factory.mktemp("spark_logs")
    items = make_catalog(200, seed=5)
    users = make_users(4000, seed=5)
    reasons = pd.concat([items[["item_id"]].assign(arm=a, segment=None, text=items["title"] + f" · {a}",
                                                    reason_id=[f"r{k}_{i}" for i in range(len(items))])
                         for k, a in enumerate(SPEC.arm_names)], ignore_index=True)
    world = build_world(SPEC, users, items, reasons, SimOptions(seed=5, duplicates=0.03, bots=2))
    sim = simulate_to_parquet(world, out / "sim")
    rng = np.random.default_rng(1)
    x = _with_bad_rows(pq.read_table(sim.files["exposures"][0]), BAD_EXPOSURES, rng, "x")
    e = _with_bad_rows(pq.read_table(sim.files["events"][0]), BAD_EVENTS, rng, "e")
    paths: dict[str, str] = {}
    for name, df in (("exposures", x), ("events", e)):
        folder = out / name
        folder.mkdir()
        shuffled = df.sample(frac=1.0, random_state=3).reset_index(drop=True)
        bounds = np.linspace(0, len(shuffled), 4).astype(int)
        for i in range(3):
            part = shuffled.iloc[bounds[i]:bounds[i + 1]]
            part.to_parquet(folder / f"part-{i}.parquet", index=False)
        part.head(50).to_parquet(folder / "part-resent.parquet", index=False)  # a batch delivered twice
        paths[name] = str(folder)
    paths["users"] = str(out / "users.parquet")
    users.assign(tier=np.where(np.arange(len(users)) % 3 == 0, "gold", "basic")).to_parquet(paths["users"], index=False)
    paths["items"] = str(out / "items.parquet")
    items.to_parquet(paths["items"], index=False)
    paths["reasons"] = str(out / "reasons.parquet")
    reasons.assign(experiment=SPEC.key).to_parquet(paths["reasons"], index=False)
    return paths


@pytest.fixture(scope="module")
def ingested(logs: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The DuckDB path: `abkit ingest` every part, then analyze the warehouse."""
    from experiments.ingest.files import ingest_files

    db = tmp_path_factory.mktemp("duck") / "w.duckdb"
    con = connect(db)
    reports = {}
    for table in ("exposures", "events", "users", "items", "reasons"):
        files = sorted(str(p) for p in Path(logs[table]).glob("*.parquet")) if Path(logs[table]).is_dir() \
            else [logs[table]]
        reports[table] = ingest_files(con, table, files).total
    quarantine = con.execute("SELECT table_name, reason, count(*) FROM quarantine GROUP BY ALL").fetchall()
    out = {"reports": reports, "quarantine": quarantine}
    for text in (True, False):
        result = analyze(SPEC, con, dimensions=["tier"], text_metrics=text, keep_tables=True)
        out[text] = {"result": result.to_json(), "stats": _arm_stats(DuckDBEngine(con), q.DEFAULT_RELATIONS)}
    con.close()
    return out


@pytest.fixture(scope="module")
def spark_engine(java: str):
    from experiments.analysis.engines.spark_engine import SparkEngine

    # Small-data settings: few partitions, no UI, no adaptive re-planning, no whole-stage code
    # generation and the quick JIT tier (compiling costs more than it saves on a few MB).
    engine = SparkEngine.start({"spark.master": "local[2]", "spark.sql.shuffle.partitions": "2",
                                "spark.default.parallelism": "2", "spark.ui.enabled": "false",
                                "spark.driver.memory": "1g", "spark.sql.adaptive.enabled": "false",
                                "spark.sql.codegen.wholeStage": "false",
                                "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"})
    yield engine
    engine.spark.stop()


def _arm_stats(engine, rel: q.Relations, spec=SPEC) -> pd.DataFrame:
    """Per-arm sufficient statistics of every metric straight from stage 3 (per_user kept)."""
    layout = q.stats_layout(spec.all_metrics)
    df = engine.frame(q.arm_stats(layout, rel=rel)).set_index("arm").sort_index()
    return df.rename(columns={a: f"{m}.{f}" for m, fs in layout.fields.items() for f, a in fs.items()})


def _raw(engine, logs: dict[str, str], text: bool, spec=SPEC) -> dict:
    dimensions = ["tier"] if spec is SPEC else []
    result = analyze_sources(spec, engine, Sources(**logs), dimensions=dimensions, text_metrics=text, keep_tables=True)
    try:
        stats = _arm_stats(engine, source_relations(), spec)
    finally:
        drop_sources(engine)
    return {"result": result.to_json(), "stats": stats}


def _close(a, b, path="") -> None:
    """Equal JSON values, floats to 1e-9 relative (sums differ only in addition order)."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12), f"{path}: {a} != {b}"
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


_VOLATILE = ("computed_at", "notes", "input_rows", "engine", "health")  # health: the warehouse's own block


def _check_same(duck: dict, other: dict) -> None:
    pd.testing.assert_frame_equal(other["stats"], duck["stats"], check_dtype=False, rtol=1e-9, atol=1e-12)
    a = {k: v for k, v in duck["result"].items() if k not in _VOLATILE}
    b = {k: v for k, v in other["result"].items() if k not in _VOLATILE}
    _close(a, b)


def _check_inputs(ingested: dict, raw: dict) -> None:
    """What the raw path excluded is what ingest quarantined and skipped as duplicates."""
    rows = raw["result"]["input_rows"]
    for table in ("exposures", "events"):
        rep = ingested["reports"][table]
        assert rows[table]["accepted"] == rep.accepted
        assert rows[table]["duplicates"] == rep.duplicates
        assert sum(rows[table]["invalid"].values()) == rep.quarantined
        quarantined = {r: n for t, r, n in ingested["quarantine"] if t == table}
        assert rows[table]["invalid"] == quarantined


def test_the_logs_have_the_traps(ingested: dict) -> None:
    reps = ingested["reports"]
    assert reps["exposures"].duplicates > 100 and reps["events"].duplicates > 50
    assert reps["exposures"].quarantined >= 3 * len(BAD_EXPOSURES)  # the re-sent batch may repeat some
    assert reps["events"].quarantined >= 3 * len(BAD_EVENTS)
    res = ingested[True]["result"]
    assert min(res["users"].values()) > 500 and res["excluded_bot_users"] >= 1
    assert res["winsorize_caps"] and set(res["breakdowns"]) == {"platform", "tier"}
    assert res["diversity"]  # text metrics ran on the DuckDB path


def test_duckdb_over_raw_parquet_matches_ingest(ingested: dict, logs: dict[str, str]) -> None:
    import duckdb

    con = duckdb.connect()
    raw = _raw(DuckDBEngine(con), logs, text=True)
    con.close()
    _check_inputs(ingested, raw)
    _check_same(ingested[True], raw)


def test_spark_matches_duckdb(ingested: dict, logs: dict[str, str], spark_engine) -> None:
    # Text metrics are left out on Spark to keep the test short (their SQL is checked above on
    # DuckDB over the raw files; the Python part is engine-independent).
    raw = _raw(spark_engine, logs, text=False)
    _check_inputs(ingested, raw)
    _check_same(ingested[False], raw)
    assert raw["result"]["engine"] == "spark"
    # The users per arm, lifts and p-values the decision rests on, spelled out.
    d, s = ingested[False]["result"], raw["result"]
    assert s["users"] == d["users"] and s["excluded_multi_arm_users"] == d["excluded_multi_arm_users"]
    assert len(s["metrics"]) == len(d["metrics"]) >= 10
    for rd, rs in zip(d["metrics"], s["metrics"], strict=True):
        assert (rd["metric"], rd["arm"], rd["baseline"]) == (rs["metric"], rs["arm"], rs["baseline"])
        for key in ("rel_lift", "p_value", "p_value_adjusted"):
            if rd[key] is None:
                assert rs[key] is None
            else:
                assert rs[key] == pytest.approx(rd[key], rel=1e-9, abs=1e-12)
    _assert_close(s["decision"], d["decision"])
    assert "regression" in {r["adjustment"] for r in d["metrics"]}
    for rd, rs in zip(d["metrics"], s["metrics"], strict=True):
        assert (rs["adjustment"], rs["covariates"]) == (rd["adjustment"], rd["covariates"])
        if rd["variance_reduction"] is not None:
            assert rs["variance_reduction"] == pytest.approx(rd["variance_reduction"], rel=1e-9, abs=1e-12)
    for arm, ex in d["heterogeneity"]["arms"].items():
        got = {r["label"]: r for r in s["heterogeneity"]["arms"][arm]["slices"]}
        for r in ex["slices"]:
            assert got[r["label"]]["n_control"] == r["n_control"] and got[r["label"]]["rank"] == r["rank"]
            if r["shrunk_lift"] is not None:
                assert got[r["label"]]["shrunk_lift"] == pytest.approx(r["shrunk_lift"], rel=1e-9, abs=1e-12)
    assert s["policy"]["assignments"] == d["policy"]["assignments"]
    json.dumps(s, allow_nan=False)


def _assert_close(a: object, b: object, path: str = "decision") -> None:
    """Equal JSON values, floats to 1e-9 (the engines sum in different orders)."""
    if isinstance(a, float) and isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12), path
    elif isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _assert_close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_close(x, y, f"{path}[{i}]")
    else:
        assert a == b, path


def _typed_timestamps(folder: str, out: Path, unit: str, tz: str | None) -> str:
    """The same rows with ``ts`` as a pandas datetime column of ``unit`` (pandas writes the unit
    into Parquet as is: TIMESTAMP(NANOS) for "ns") in zone ``tz`` (None: naive UTC)."""
    out.mkdir()
    for i, part in enumerate(sorted(Path(folder).glob("*.parquet"))):
        df = pd.read_parquet(part)
        ts = pd.to_datetime(df["ts"], errors="coerce", utc=True, format="ISO8601")
        df = df[ts.notna()].copy()  # unparseable text has no typed form; the text path covers it
        ts = ts[ts.notna()].dt.tz_convert(tz) if tz else ts[ts.notna()].dt.tz_localize(None)
        df["ts"] = ts.astype(f"datetime64[{unit}, {tz}]" if tz else f"datetime64[{unit}]")
        df.to_parquet(out / f"part-{i}.parquet", index=False)
    return str(out)


@pytest.mark.parametrize(("exposures_ts", "events_ts"), [
    # one Spark run (minutes on 2 cores): nanoseconds naive, microseconds zone-aware
    (("ns", None), ("us", "Asia/Shanghai")),
])
def test_spark_reads_pandas_written_timestamps(logs: dict[str, str], spark_engine, tmp_path: Path,
                                               exposures_ts: tuple[str, str | None],
                                               events_ts: tuple[str, str | None]) -> None:
    """Lakes are full of pandas-written Parquet: nanosecond timestamps (Spark rejects
    TIMESTAMP(NANOS) unless read as INT64) and zone-aware ones. Spark must read them and agree
    with DuckDB over the same files."""
    import duckdb

    typed = {**logs,
             "exposures": _typed_timestamps(logs["exposures"], tmp_path / "x", *exposures_ts),
             "events": _typed_timestamps(logs["events"], tmp_path / "e", *events_ts)}
    schema = pq.read_schema(next(Path(typed["exposures"]).glob("*.parquet")))
    assert str(schema.field("ts").type).startswith(f"timestamp[{exposures_ts[0]}")
    con = duckdb.connect()
    duck = _raw(DuckDBEngine(con), typed, text=False, spec=LEAN_SPEC)
    con.close()
    spark = _raw(spark_engine, typed, text=False, spec=LEAN_SPEC)
    assert spark["result"]["input_rows"] == duck["result"]["input_rows"]
    _check_same(duck, spark)
    assert min(spark["result"]["users"].values()) > 500

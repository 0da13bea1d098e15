"""Incremental daily refresh (experiments/analysis/incremental.py): a result refreshed from the
stored state equals a full recompute on every number (1e-9), through late rows, refunds of old
orders, users who become multi-arm, late pre-period events and first exposures that move."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest

from abkit.warehouse import connect
from experiments.analysis import analyze as analyze_module
from experiments.analysis.analyze import analyze
from experiments.analysis.engines.duckdb_engine import DuckDBEngine
from experiments.analysis.incremental import Refresh, drop_state, state_tables
from experiments.analysis.stages import AnalysisError
from tests.experiments.conftest import random_logs, write_logs

T0 = pd.Timestamp("2026-11-01")


def assert_same(a: Any, b: Any, path: str = "") -> None:
    """Equal JSON values, floats to 1e-9 (relative above 1)."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert set(a) == set(b), f"{path}: keys {sorted(set(a) ^ set(b))}"
        for k in a:
            if k != "computed_at":
                assert_same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), f"{path}: {len(a)} vs {len(b)} items"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float | int):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9), f"{path}: {a!r} != {b!r}"
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def refresh_and_full(db: Path, spec: Any, *, keyed: bool = False, **kw: Any
                     ) -> tuple[dict[str, Any], dict[str, Any], Refresh, pd.DataFrame]:
    """(state-backed result, full result, what the state did, the state-derived per-user table).
    ``keyed``: the state on the integer user keys (what analyze does without keep_tables; the
    per-user table is copied, with the string ids, before analyze drops it)."""
    con = connect(db)
    try:
        log: list[Refresh] = []
        if keyed:
            inc = analyze_keyed(spec, con, log, **kw)
            per_user = con.execute("SELECT * FROM test_per_user ORDER BY user_id").df()
            con.execute("DROP TABLE test_per_user")
            kind = con.execute("SELECT data_type FROM information_schema.columns WHERE table_name = ? "
                               "AND column_name = 'user_id'", [state_tables(spec.key)["seen"]]).fetchall()
            assert kind == [("INTEGER",)], "the state must be on the user keys"
        else:
            inc = analyze(spec, con, state="auto", state_log=log, keep_tables=True, **kw)
            per_user = con.execute("SELECT * FROM abkit_per_user ORDER BY user_id").df()
            con.execute("DROP TABLE abkit_per_user")
            con.execute("DROP VIEW abkit_seen_users")  # the state's view (kept by keep_tables)
        full = analyze(spec, con, **kw)
        return inc.to_json(), full.to_json(), log[-1], per_user
    finally:
        con.close()


def analyze_keyed(spec: Any, con: duckdb.DuckDBPyConnection, log: list[Refresh], **kw: Any) -> Any:
    """analyze(state="auto") on the user keys, its per-user table kept as ``test_per_user`` (string ids)."""
    real = analyze_module.drop_per_user

    def keep_then_drop(engine: Any, rel: Any) -> None:
        con.execute(f"CREATE TABLE test_per_user AS SELECT k.user_id, p.* EXCLUDE (user_id) "
                    f"FROM {rel.per_user} p JOIN user_keys k ON k.user_key = p.user_id")
        real(engine, rel)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(analyze_module, "drop_per_user", keep_then_drop)
        return analyze(spec, con, state="auto", state_log=log, **kw)


def add_rows(db: Path, exposures: pd.DataFrame, events: pd.DataFrame) -> None:
    write_logs(db, exposures=exposures, events=events)


def split(df: pd.DataFrame, mask: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    return df[~mask].reset_index(drop=True), df[mask].reset_index(drop=True)


# --- the identity on random logs -----------------------------------------------------------

def random_batches(seed: int, n_batches: int = 3) -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    """Random logs ingested in batches by day, with late rows: a share of every batch's rows
    carry old timestamps (late exposures, late clicks, refunds of old orders, re-sent events)."""
    x, e = random_logs(500, seed, days=4, effect=0.3)
    rng = np.random.default_rng(seed)
    batches = []
    cuts = [T0 + pd.Timedelta(days=d) for d in range(2, 2 + n_batches)]
    for df in (x, e):
        df["ingested_at"] = df["ts"] + pd.Timedelta(minutes=5)
        late = rng.random(len(df)) < 0.06  # arrive in a later batch than their ts says
        df.loc[late, "ingested_at"] = df.loc[late, "ts"] + pd.to_timedelta(rng.integers(1, 4, late.sum()), unit="D")
        df["batch"] = np.searchsorted(np.array(cuts, dtype="datetime64[ns]"), df["ingested_at"].to_numpy())
        df["batch"] = df["batch"].clip(upper=n_batches - 1)
    for b in range(n_batches):
        batches.append((x[x.batch == b].drop(columns="batch"), e[e.batch == b].drop(columns="batch")))
    return batches


@pytest.mark.parametrize("seed", [3, 11])
def test_refreshes_equal_full_recompute_on_every_number(tmp_path, spec_from, seed):
    spec = spec_from(end="2026-11-05", dimensions=["platform"], max_exposures_per_user=12)
    db, keyed_db = tmp_path / "w.duckdb", tmp_path / "k.duckdb"  # the state on string ids, on user keys
    modes = []
    for x, e in random_batches(seed):
        add_rows(db, x, e)
        add_rows(keyed_db, x, e)
        inc, full, refresh, _ = refresh_and_full(db, spec, text_metrics=False)
        assert_same(inc, full)
        modes.append(refresh.mode)
        inc, full, refresh, _ = refresh_and_full(keyed_db, spec, keyed=True, text_metrics=False)
        assert_same(inc, full)
        modes.append(refresh.mode)
        assert full["daily"] and full["breakdowns"], "the comparison must cover the daily block and a breakdown"
    assert modes == ["built", "built", "refreshed", "refreshed", "refreshed", "refreshed"]


def test_refresh_reads_only_rows_after_the_watermark(tmp_path, spec_from):
    (x1, e1), (x2, e2), _ = random_batches(5)
    db = tmp_path / "w.duckdb"
    spec = spec_from(end="2026-11-05")
    add_rows(db, x1, e1)
    refresh_and_full(db, spec, text_metrics=False)
    add_rows(db, x2, e2)
    _, _, refresh, _ = refresh_and_full(db, spec, text_metrics=False)
    assert refresh.mode == "refreshed" and refresh.new_rows == len(x2) + len(e2)
    _, _, again, _ = refresh_and_full(db, spec, text_metrics=False)
    assert again.mode == "refreshed" and again.new_rows == 0


# --- each kind of late row, on its own --------------------------------------------------------

def xrow(eid: str, ts: str, user: str, item: str, arm: str, ingested: str | None = None) -> dict[str, Any]:
    return {"event_id": eid, "ts": pd.Timestamp(ts), "experiment": "exp1", "user_id": user, "item_id": item,
            "arm": arm, "ingested_at": pd.Timestamp(ingested or ts) + pd.Timedelta(minutes=1)}


def erow(eid: str, ts: str, user: str, item: str, type_: str, revenue: float | None = None,
         order_id: str | None = None, ingested: str | None = None) -> dict[str, Any]:
    return {"event_id": eid, "ts": pd.Timestamp(ts), "user_id": user, "item_id": item, "type": type_,
            "revenue": revenue, "order_id": order_id,
            "ingested_at": pd.Timestamp(ingested or ts) + pd.Timedelta(minutes=1)}


BASE_X = [xrow("x1", "2026-11-01 10:00", "u1", "A", "control"), xrow("x2", "2026-11-01 11:00", "u2", "A", "treat"),
          xrow("x3", "2026-11-02 10:00", "u3", "B", "treat"), xrow("x4", "2026-11-02 12:00", "u4", "C", "control")]
BASE_E = [erow("c1", "2026-11-01 10:30", "u1", "A", "click"), erow("c2", "2026-11-01 11:10", "u2", "A", "click"),
          erow("o1", "2026-11-01 12:00", "u1", "A", "order", 80.0, "O1")]


def scenario(tmp_path: Path, spec: Any, later_x: list[dict[str, Any]], later_e: list[dict[str, Any]],
             base_x: list[dict[str, Any]] = BASE_X, base_e: list[dict[str, Any]] = BASE_E, name: str = "s"
             ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Analyze the base rows (building the state), add the later rows, refresh; checks the refresh
    equals the full recompute and returns the per-user tables before and after, and the result.
    The same runs on a second warehouse with the state on the user keys: the same tables and result."""
    frame = pd.DataFrame
    out = []
    for keyed in (False, True):
        db = tmp_path / f"{name}{'_keyed' if keyed else ''}.duckdb"
        write_logs(db, exposures=frame(base_x),
                   events=frame(base_e, columns=list(erow("e", "2026-11-01", "u", "i", "click"))))
        _, _, built, before = refresh_and_full(db, spec, keyed=keyed, text_metrics=False)
        assert built.mode == "built"
        if later_x:
            write_logs(db, exposures=frame(later_x), events=frame(columns=list(BASE_E[0])))
        if later_e:
            write_logs(db, exposures=frame(columns=list(BASE_X[0])), events=frame(later_e))
        inc, full, refresh, after = refresh_and_full(db, spec, keyed=keyed, text_metrics=False)
        assert refresh.mode == "refreshed"
        assert_same(inc, full)
        out.append((before.set_index("user_id"), after.set_index("user_id"), inc))
    (before, after, inc), (before_k, after_k, inc_k) = out
    pd.testing.assert_frame_equal(before_k, before, check_dtype=False)
    pd.testing.assert_frame_equal(after_k, after, check_dtype=False)
    assert_same(inc_k, inc)
    return before, after, inc


@pytest.fixture
def spec4(spec_from):
    return spec_from(end="2026-11-05")


def test_late_exposure_anchors_an_event_ingested_earlier(tmp_path, spec4):
    # u3 clicked K at 10:20 (ingested on time); the exposure of 10:05 that anchors it arrives a day late
    base_e = [*BASE_E, erow("c3", "2026-11-02 10:20", "u3", "K", "click")]
    late = [xrow("x5", "2026-11-02 10:05", "u3", "K", "treat", ingested="2026-11-03 09:00")]
    before, after, _ = scenario(tmp_path, spec4, late, [], base_e=base_e)
    assert (before.loc["u3", "clicks"], after.loc["u3", "clicks"]) == (0, 1)
    assert after.loc["u3", "exposures"] == 2


def test_late_click_and_order_of_an_old_exposure(tmp_path, spec4):
    late = [erow("c9", "2026-11-02 12:40", "u4", "C", "click", ingested="2026-11-04 08:00"),
            erow("o9", "2026-11-03 11:00", "u4", "C", "order", 20.0, "O9", ingested="2026-11-04 08:00"),
            erow("c10", "2026-11-02 13:30", "u4", "C", "click", ingested="2026-11-04 08:00")]  # 90 min: no
    before, after, _ = scenario(tmp_path, spec4, [], late)
    assert before.loc["u4", ["clicks", "orders"]].tolist() == [0, 0]
    assert after.loc["u4", ["clicks", "orders", "revenue"]].tolist() == [1, 1, 20.0]


def test_refund_of_an_old_order_counts_against_its_attribution(tmp_path, spec4):
    late = [erow("r1", "2026-11-04 09:00", "u1", "A", "refund", 30.0, "O1"),
            erow("r2", "2026-11-04 09:00", "u9", "Z", "refund", 5.0, "O404")]  # an order nobody has
    before, after, _ = scenario(tmp_path, spec4, [], late)
    assert before.loc["u1", ["net_revenue", "refunded_orders"]].tolist() == [80.0, 0]
    assert after.loc["u1", ["revenue", "net_revenue", "refunded_orders"]].tolist() == [80.0, 50.0, 1]


def test_refund_ingested_before_its_order(tmp_path, spec4):
    base_e = [*BASE_E, erow("r5", "2026-11-03 09:00", "u2", "A", "refund", 12.5, "O5")]
    late = [erow("o5", "2026-11-01 20:00", "u2", "A", "order", 40.0, "O5", ingested="2026-11-03 10:00")]
    _, after, _ = scenario(tmp_path, spec4, [], late, base_e=base_e)
    assert after.loc["u2", ["orders", "revenue", "net_revenue", "refunded_orders"]].tolist() == [1, 40.0, 27.5, 1]


def test_user_who_becomes_multi_arm_leaves_the_analysis_and_the_daily_block(tmp_path, spec4):
    base_x = [*BASE_X, xrow("x10", "2026-11-01 18:00", "u5", "A", "control")]
    late = [xrow("x6", "2026-11-03 09:00", "u1", "A", "treat")]
    before, after, result = scenario(tmp_path, spec4, late, [], base_x=base_x)
    assert "u1" in before.index and "u1" not in after.index
    assert result["excluded_multi_arm_users"] == 1
    day1 = [r for r in result["daily"] if r["metric"] == "exposures" and r["date"] == "2026-11-01"]
    assert {r["arm"]: r["value"] for r in day1} == {"control": 1, "treat": 1}  # u1's exposure of Nov 1 is gone


def test_user_who_becomes_a_bot_leaves_the_analysis(tmp_path, spec_from):
    spec = spec_from(end="2026-11-05", max_exposures_per_user=2)
    late = [xrow(f"b{i}", f"2026-11-03 0{i}:00", "u2", "A", "treat") for i in range(1, 3)]
    before, after, _ = scenario(tmp_path, spec, late, [])
    assert "u2" in before.index and "u2" not in after.index


def test_late_pre_period_event_updates_the_covariate(tmp_path, spec4):
    late = [erow("p1", "2026-10-25 10:00", "u3", "Q", "order", 9.0, "P1", ingested="2026-11-03 08:00"),
            erow("p2", "2026-10-01 10:00", "u3", "Q", "click", ingested="2026-11-03 08:00")]  # before lookback
    before, after, _ = scenario(tmp_path, spec4, [], late)
    assert before.loc["u3", ["pre_orders", "pre_clicks"]].tolist() == [0, 0]
    assert after.loc["u3", ["pre_orders", "pre_revenue", "pre_clicks"]].tolist() == [1, 9.0, 0]


def test_resent_event_is_counted_once(tmp_path, spec4):
    base_e = [*BASE_E, erow("p1", "2026-10-25 10:00", "u3", "Q", "click")]
    late = [erow("p1", "2026-10-25 10:00", "u3", "Q", "click", ingested="2026-11-03 08:00"),
            erow("c1", "2026-11-01 10:30", "u1", "A", "click", ingested="2026-11-03 08:00")]
    before, after, _ = scenario(tmp_path, spec4, [], late, base_e=base_e)
    assert after.loc["u3", "pre_clicks"] == before.loc["u3", "pre_clicks"] == 1
    assert after.loc["u1", "clicks"] == before.loc["u1", "clicks"] == 1


def test_earlier_late_exposure_moves_first_exposure_and_recomputes_the_covariate(tmp_path, spec4):
    # u4's click on D at 2026-11-02 09:00 was pre-period (first exposure 12:00); an exposure of D at
    # 08:30 arrives late: the click is now attributed and no longer a covariate
    base_e = [*BASE_E, erow("c7", "2026-11-02 09:00", "u4", "D", "click")]
    late = [xrow("x7", "2026-11-02 08:30", "u4", "D", "control", ingested="2026-11-03 09:00")]
    before, after, _ = scenario(tmp_path, spec4, late, [], base_e=base_e)
    assert before.loc["u4", ["clicks", "pre_clicks"]].tolist() == [0, 1]
    assert after.loc["u4", ["clicks", "pre_clicks"]].tolist() == [1, 0]
    assert after.loc["u4", "first_exposure"] == pd.Timestamp("2026-11-02 08:30")


def test_new_user_on_the_new_day(tmp_path, spec4):
    late = [xrow("x8", "2026-11-03 15:00", "u8", "E", "treat")]
    late_e = [erow("c8", "2026-11-03 15:10", "u8", "E", "click"), erow("p8", "2026-10-30 15:10", "u8", "E", "click",
                                                                      ingested="2026-11-03 15:10")]
    before, after, _ = scenario(tmp_path, spec4, late, late_e)
    assert "u8" not in before.index
    assert after.loc["u8", ["exposures", "clicks", "pre_clicks"]].tolist() == [1, 1, 1]


# --- when the state is not used ---------------------------------------------------------------

def test_spec_change_and_backfill_rebuild_the_state(tmp_path, spec4, spec_from):
    db = tmp_path / "s.duckdb"
    write_logs(db, exposures=pd.DataFrame(BASE_X), events=pd.DataFrame(BASE_E))
    assert refresh_and_full(db, spec4, text_metrics=False)[2].mode == "built"
    assert refresh_and_full(db, spec4, text_metrics=False)[2].mode == "refreshed"
    changed = spec_from(end="2026-11-05", click_window="2h")
    inc, full, refresh, _ = refresh_and_full(db, changed, text_metrics=False)
    assert (refresh.mode, refresh.reason) == ("built", "the spec changed since the state was stored")
    assert_same(inc, full)
    # a row ingested "in the past" (before the watermark) cannot be seen by a refresh: rebuild
    write_logs(db, exposures=pd.DataFrame([xrow("x9", "2026-11-01 09:00", "u9", "A", "treat")]),
               events=pd.DataFrame(columns=list(BASE_E[0])))
    inc, full, refresh, per_user = refresh_and_full(db, changed, text_metrics=False)
    assert refresh.mode == "built" and "before the watermark" in refresh.reason
    assert "u9" in set(per_user["user_id"])
    assert_same(inc, full)


def test_full_when_as_of_or_read_only_and_error_on_other_engines(tmp_path, spec4):
    db = tmp_path / "s.duckdb"
    write_logs(db, exposures=pd.DataFrame(BASE_X), events=pd.DataFrame(BASE_E))
    con = connect(db)
    log: list[Refresh] = []
    analyze(spec4, con, state="auto", state_log=log, as_of=dt.datetime(2026, 11, 3), text_metrics=False)
    assert log[-1].mode == "full" and not con.execute("SELECT count(*) FROM analysis_state").fetchone()[0]
    with pytest.raises(AnalysisError, match="DuckDB warehouse"):
        analyze(spec4, DuckDBEngine(con), state="auto", text_metrics=False)
    analyze(spec4, con, state="auto", text_metrics=False)
    con.close()
    ro = connect(db, read_only=True)
    analyze(spec4, ro, state="auto", state_log=log, text_metrics=False)
    assert log[-1].mode == "full" and "read-only" in log[-1].reason
    ro.close()
    con = connect(db)
    drop_state(con, spec4.key)
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert not tables & set(state_tables(spec4.key).values())
    con.close()


def test_cli_says_which_it_did(tmp_path):
    from typer.testing import CliRunner

    from abkit.cli import app

    db = tmp_path / "s.duckdb"
    write_logs(db, exposures=pd.DataFrame(BASE_X), events=pd.DataFrame(BASE_E))
    spec = tmp_path / "spec.yaml"
    spec.write_text("key: exp1\narms: [{name: control, weight: 0.5}, {name: treat, weight: 0.5}]\n"
                    "start: 2026-11-01\nend: 2026-11-05\nprimary_metric: ctr\nmde: 0.2\n", encoding="utf-8")

    def run(*args: str) -> str:
        r = CliRunner().invoke(app, ["analyze", str(spec), "--db", str(db), "--no-text-metrics", *args])
        assert r.exit_code == 0, r.output
        return r.output

    assert "incremental" not in run()  # opt-in: a plain analyze neither builds nor reads the state
    with duckdb.connect(str(db), read_only=True) as con:
        assert not [t for (t,) in con.execute("SHOW TABLES").fetchall() if t.startswith("abkit_state_")]
    assert "incremental state stored" in run("--incremental")
    assert "incremental refresh: 0 rows" in run("--incremental")
    assert "full recompute (--as-of" in run("--incremental", "--as-of", "2026-11-03T00:00:00Z")


# --- the text blocks (text metrics, text features, samples) read the state's stage tables ------------

def with_reasons(x: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Exposures with a reason per (arm, item) on most items (some none), two reasons on a few items
    shown at the same instant (the anchor's tie-break), and the reasons, users and items tables."""
    rng = np.random.default_rng(seed)
    x = x.copy()
    has = x["item_id"].str[-1] != "7"
    x["reason_id"] = np.where(has, "r" + x["arm"].str[0] + x["item_id"], None)
    tie = x[has & (x["item_id"].str[-1] == "3")].sample(frac=0.5, random_state=seed).copy()
    tie["event_id"] = tie["event_id"] + "b"
    tie["reason_id"] = tie["reason_id"] + "z"  # same (user, item, ts), larger reason_id
    x = pd.concat([x, tie], ignore_index=True)
    ids = x[["reason_id", "experiment", "arm", "item_id"]].dropna().drop_duplicates("reason_id")
    words = np.array(["限时优惠，", "纯棉材质，", "月销1万+，", "闭眼入，"])
    reasons = ids.assign(segment=None, text=[f"{w}好物{r}号很能打。" for w, r in
                                             zip(words[rng.integers(0, 4, len(ids))], ids["reason_id"], strict=True)])
    users = pd.DataFrame({"user_id": sorted(set(x["user_id"]))})
    users["segment"] = np.array(["价格敏感", "注重品质", "学生党"])[rng.integers(0, 3, len(users))]
    item_ids = sorted(set(x["item_id"]))
    items = pd.DataFrame({"item_id": item_ids, "category": "服饰", "brand": "品牌", "title": [f"好物{i}" for i in item_ids],
                          "price": 59.0, "discount": 0.2, "attributes": '{"材质": "棉"}'})
    return x, reasons, users, items


def test_text_blocks_refreshed_equal_full_recompute(tmp_path, spec_from):
    spec = spec_from(end="2026-11-05", dimensions=["segment"])
    db = tmp_path / "t.duckdb"
    batches = random_batches(7)
    full_x = pd.concat([b[0] for b in batches])
    _, reasons, users, items = with_reasons(full_x, 7)
    modes = []
    for i, (x, e) in enumerate(batches):
        x, *_ = with_reasons(x, 7)
        write_logs(db, exposures=x, events=e, **({"reasons": reasons, "users": users, "items": items} if i == 0 else {}))
        inc, full, refresh, _ = refresh_and_full(db, spec)
        assert_same(inc, full)
        modes.append(refresh.mode)
        for block in ("text_features", "samples", "diversity", "daily", "breakdowns"):
            assert full[block], f"the comparison must cover the {block} block"
    assert modes == ["built", "refreshed", "refreshed"]


def test_late_exposure_at_the_same_instant_moves_the_anchor_reason(tmp_path, spec4):
    # u1's click on A at 10:30 is anchored on the 10:00 exposure showing rcA; an exposure of A at the
    # same 10:00 showing the larger reason rcA2 arrives late: the click's anchor reason becomes rcA2
    base_x = [{**r, "reason_id": "rc" + r["item_id"]} for r in BASE_X]
    late = [{**xrow("x1b", "2026-11-01 10:00", "u1", "A", "control", ingested="2026-11-03 09:00"), "reason_id": "rcA2"}]
    reasons = pd.DataFrame({"reason_id": ["rcA", "rcA2", "rcB", "rcC"], "experiment": "exp1",
                            "arm": ["control", "control", "treat", "control"], "item_id": ["A", "A", "B", "C"],
                            "segment": None, "text": ["短。", "这是一条长得多的推荐理由，讲清楚材质和用途，适合通勤。", "好。", "棒。"]})
    db = tmp_path / "tie.duckdb"
    write_logs(db, exposures=pd.DataFrame(base_x), events=pd.DataFrame(BASE_E), reasons=reasons)
    assert refresh_and_full(db, spec4)[2].mode == "built"
    con = connect(db)
    anchors = con.execute(f"SELECT event_id, anchor_reason_id FROM {state_tables('exp1')['events']}").fetchall()
    con.close()
    assert dict(anchors)["c1"] == "rcA"
    write_logs(db, exposures=pd.DataFrame(late), events=pd.DataFrame(columns=list(BASE_E[0])))
    inc, full, refresh, _ = refresh_and_full(db, spec4)
    assert refresh.mode == "refreshed"
    assert_same(inc, full)
    con = connect(db)
    anchors = con.execute(f"SELECT event_id, anchor_reason_id FROM {state_tables('exp1')['events']}").fetchall()
    con.close()
    assert dict(anchors)["c1"] == "rcA2"


def test_text_features_computed_only_for_new_keys_and_again_after_a_catalog_change(tmp_path, spec4, monkeypatch):
    from experiments.analysis import incremental_features

    computed: list[int] = []
    real = incremental_features.feature_table
    monkeypatch.setattr(incremental_features, "feature_table",
                        lambda keys, items, *shared: computed.append(len(keys)) or real(keys, items, *shared))
    base_x = [{**r, "reason_id": "r" + r["item_id"]} for r in BASE_X]
    reasons = pd.DataFrame({"reason_id": ["rA", "rB", "rC", "rD"], "experiment": "exp1", "arm": "control",
                            "item_id": ["A", "B", "C", "D"], "segment": None,
                            "text": ["限时优惠，好物A。", "纯棉材质。", "月销1万+。", "闭眼入，很能打。"]})
    users = pd.DataFrame({"user_id": ["u1", "u2", "u3", "u4"], "segment": ["价格敏感", "学生党", "注重品质", "宝妈"]})
    db = tmp_path / "f.duckdb"
    write_logs(db, exposures=pd.DataFrame(base_x), events=pd.DataFrame(BASE_E), reasons=reasons, users=users)
    inc, full, refresh, _ = refresh_and_full(db, spec4)
    assert refresh.mode == "built" and computed == [4]  # four (reason, item, segment) keys, each once
    assert_same(inc, full)
    late = [{**xrow("x5", "2026-11-03 09:00", "u4", "D", "control"), "reason_id": "rD"}]
    write_logs(db, exposures=pd.DataFrame(late), events=pd.DataFrame(columns=list(BASE_E[0])))
    inc, full, refresh, _ = refresh_and_full(db, spec4)
    assert refresh.mode == "refreshed" and computed == [4, 1]  # only the new key
    assert_same(inc, full)
    items = pd.DataFrame({"item_id": ["A"], "category": "服饰", "brand": "品牌", "title": "好物A", "price": 59.0,
                          "discount": 0.2, "attributes": '{"材质": "棉"}'})
    write_logs(db, exposures=pd.DataFrame(columns=list(BASE_X[0])), events=pd.DataFrame(columns=list(BASE_E[0])),
               items=items)
    inc, full, refresh, _ = refresh_and_full(db, spec4)
    assert computed == [4, 1, 5]  # another catalog: every key again
    assert_same(inc, full)
    assert any(r["feature"] == "unfaithful" and r["level"] == "no" for r in inc["text_features"])


def test_state_on_user_keys_is_rebuilt_on_string_ids_when_a_row_lacks_its_key(tmp_path, spec4):
    # the relations read are part of the spec hash: a state on the keys is never read as string ids
    db = tmp_path / "k.duckdb"
    write_logs(db, exposures=pd.DataFrame(BASE_X), events=pd.DataFrame(BASE_E))
    assert refresh_and_full(db, spec4, keyed=True, text_metrics=False)[2].mode == "built"
    con = connect(db)
    con.execute("INSERT INTO exposures (event_id, ts, experiment, user_id, item_id, arm, ingested_at) "
                "VALUES ('x9', TIMESTAMP '2026-11-03 09:00', 'exp1', 'u9', 'A', 'treat', TIMESTAMP '2026-11-03 09:01')")
    log: list[Refresh] = []
    inc = analyze(spec4, con, state="auto", state_log=log, text_metrics=False)  # unkeyed row: string ids
    full = analyze(spec4, con, text_metrics=False)
    kind = con.execute("SELECT data_type FROM information_schema.columns WHERE table_name = ? "
                       "AND column_name = 'user_id'", [state_tables(spec4.key)["seen"]]).fetchall()
    con.close()
    assert (log[-1].mode, log[-1].reason) == ("built", "the spec changed since the state was stored")
    assert kind == [("VARCHAR",)]
    assert_same(inc.to_json(), full.to_json())


def test_user_who_gets_a_second_arm_in_another_experiment_leaves_the_interaction_check(tmp_path, spec4):
    # the stored (user, other experiment) rows are updated in place: u1 and u2 were in arm a of the
    # other experiment; a later day shows them arm b there, so they no longer count for (other, a)
    other = [{**xrow(f"o{i}", f"2026-11-01 0{i}:00", u, "A", "a"), "experiment": "other"}
             for i, u in enumerate(["u1", "u2", "u3", "u4"], start=1)]
    late = [{**xrow(f"o{i}b", "2026-11-03 09:00", u, "A", "b"), "experiment": "other"} for i, u in enumerate(["u1", "u2"])]
    _, _, result = scenario(tmp_path, spec4, late, [], base_x=[*BASE_X, *other])
    rows = result["health"]["interactions"]
    assert rows, "the comparison must cover the interaction check"
    assert [r["users_in_both"] for r in rows] == [2]  # u3 and u4


# --- the users' segments are stored with the state: users rows ingested later lower them ----------

def test_users_rows_ingested_after_the_state_change_segments_as_in_a_full_recompute(tmp_path, spec_from):
    # the segment is the smallest of a user's rows: u2 gets a smaller one (its per-user row and its
    # texts change), u3 a larger one (nothing changes), u5 is first seen later with a row written before
    spec = spec_from(end="2026-11-05", dimensions=["segment"])
    base_x = [{**r, "reason_id": "r" + r["item_id"]} for r in BASE_X]
    reasons = pd.DataFrame({"reason_id": ["rA", "rB", "rC"], "experiment": "exp1", "arm": "control",
                            "item_id": ["A", "B", "C"], "segment": None, "text": ["限时优惠，好物A。", "纯棉材质。", "月销1万+。"]})
    users = pd.DataFrame({"user_id": ["u1", "u2", "u3", "u4", "u5"], "segment": ["学生党", "注重品质", "价格敏感", "宝妈", "学生党"]})
    db = tmp_path / "seg.duckdb"
    write_logs(db, exposures=pd.DataFrame(base_x), events=pd.DataFrame(BASE_E), reasons=reasons, users=users)
    assert refresh_and_full(db, spec)[2].mode == "built"
    later = [{**xrow("x6", "2026-11-03 09:00", "u5", "B", "treat"), "reason_id": "rB"},
             {**xrow("x7", "2026-11-03 09:30", "u2", "A", "treat"), "reason_id": "rA"}]
    write_logs(db, exposures=pd.DataFrame(later), events=pd.DataFrame(columns=list(BASE_E[0])),
               users=pd.DataFrame({"user_id": ["u2", "u3"], "segment": ["价格敏感", "注重品质"]}))
    inc, full, refresh, per_user = refresh_and_full(db, spec)
    assert refresh.mode == "refreshed"
    assert_same(inc, full)
    assert dict(zip(per_user["user_id"], per_user["dim_0"], strict=True))["u2"] == "价格敏感"
    assert {r["segment"] for r in inc["samples"]} >= {"价格敏感", "学生党"}
    con = connect(db)
    con.execute("DELETE FROM users WHERE user_id = 'u4'")  # a row at or before the state's mark removed
    con.close()
    inc, full, refresh, _ = refresh_and_full(db, spec)
    assert refresh.mode == "built" and "users rows" in refresh.reason
    assert_same(inc, full)


def test_users_rows_alone_reach_the_stored_segments(tmp_path, spec_from):
    # no new log rows (the watermark stays), users rows for users who had none: the segments take them
    spec = spec_from(end="2026-11-05", dimensions=["segment"])
    db = tmp_path / "seg0.duckdb"
    write_logs(db, exposures=pd.DataFrame(BASE_X), events=pd.DataFrame(BASE_E),
               users=pd.DataFrame({"user_id": ["u2"], "segment": ["注重品质"]}))
    assert refresh_and_full(db, spec)[2].mode == "built"
    write_logs(db, exposures=pd.DataFrame(columns=list(BASE_X[0])), events=pd.DataFrame(columns=list(BASE_E[0])),
               users=pd.DataFrame({"user_id": ["u1", "u3"], "segment": ["学生党", "宝妈"]}))
    inc, full, refresh, per_user = refresh_and_full(db, spec)
    assert refresh.mode == "refreshed"
    assert_same(inc, full)
    assert per_user.set_index("user_id")["dim_0"].fillna("-").to_dict() == {"u1": "学生党", "u2": "注重品质",
                                                                              "u3": "宝妈", "u4": "-"}

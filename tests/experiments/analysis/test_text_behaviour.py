"""CTR/CVR by text feature (experiments/text_behaviour.py), the one-group ratio CI, and the samples block.

Hand-computed values on a tiny warehouse, a brute-force pandas reference with numpy/scipy
delta-method CIs on random logs, a coverage simulation, and the analyze hook's failure guard.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from abkit.spec import parse_spec
from abkit.stats import SufficientStats, ratio_interval
from abkit.text.features import text_features
from abkit.warehouse import connect
from abkit.world.textlex import segment_top_aspect
from experiments.analysis.analyze import analyze
from experiments.analysis.blocks import BLOCKS
from experiments.analysis.engines import DuckDBEngine
from experiments.analysis.samples import sample_block
from experiments.analysis.stages import build_per_user
from experiments.analysis.text_behaviour import FEATURES, text_feature_block

SPEC = {"key": "tb1", "arms": [{"name": "control", "weight": 0.5}, {"name": "treat", "weight": 0.5}],
        "start": "2026-11-01", "end": "2026-11-03", "primary_metric": "ctr"}

ITEMS = pd.DataFrame({
    "item_id": ["A", "B"], "category": ["服饰", "服饰"], "brand": ["b", "b"], "title": ["纯棉T恤", "羊毛大衣"],
    "price": [100.0, 500.0], "discount": [0.2, 0.0],
    "attributes": ['{"材质": "纯棉", "季节": "夏季"}', '{"材质": "羊毛", "季节": "冬季"}'],
})
# T1 promo / S / faithful; T2 no promo / S; T3 promo / other / unfaithful (B has no discount); T4 no promo / S
TEXTS = {"T1": "限时8折，纯棉T恤超值入手", "T2": "纯棉面料柔软透气，夏天穿很舒服",
         "T3": "限时5折抢购中", "T4": "羊毛面料保暖舒适，冬季必备大衣"}


def _tiny_logs() -> dict[str, pd.DataFrame]:
    X = [  # event_id, ts, user, item, arm, reason_id
        ("e1", "2026-11-01 10:00", "u1", "A", "control", "T1"),
        ("e2", "2026-11-01 10:20", "u1", "A", "control", "T2"),  # the latest before k1: k1 counts for T2
        ("e3", "2026-11-01 12:00", "u1", "B", "control", "T3"),
        ("e4", "2026-11-01 10:00", "u2", "A", "control", "T1"),
        ("e5", "2026-11-01 11:00", "u2", "B", "control", "T4"),
        ("e6", "2026-11-01 09:00", "u3", "A", "control", None),  # no text: left out, and so is k5
        ("e7", "2026-11-01 09:30", "u3", "B", "control", "T4"),
        ("e8", "2026-11-01 10:00", "u4", "A", "treat", "T2"),
        ("e9", "2026-11-01 11:00", "u4", "B", "treat", "T3"),
        ("e10", "2026-11-01 10:00", "u5", "A", "treat", "T1"),
    ]
    x = pd.DataFrame(X, columns=["event_id", "ts", "user_id", "item_id", "arm", "reason_id"]).assign(experiment="tb1")
    E = [  # event_id, ts, user, item, type, revenue
        ("k1", "2026-11-01 10:30", "u1", "A", "click", None),
        ("k2", "2026-11-01 12:10", "u1", "B", "click", None),
        ("o1", "2026-11-01 13:00", "u1", "B", "order", 500.0),
        ("k3", "2026-11-01 10:05", "u2", "A", "click", None),
        ("k4", "2026-11-01 11:30", "u2", "A", "click", None),  # 90 min after e4: not attributed
        ("k5", "2026-11-01 09:10", "u3", "A", "click", None),
        ("k6", "2026-11-01 10:10", "u4", "A", "click", None),
        ("k7", "2026-11-01 10:15", "u5", "A", "click", None),
        ("o2", "2026-11-01 11:00", "u5", "A", "order", 80.0),
    ]
    e = pd.DataFrame(E, columns=["event_id", "ts", "user_id", "item_id", "type", "revenue"])
    for df in (x, e):
        df["ts"] = pd.to_datetime(df["ts"])
    users = pd.DataFrame({"user_id": ["u1", "u2", "u3", "u4", "u5"],
                          "segment": ["注重品质", "价格敏感", None, "学生党", None]})
    reasons = pd.DataFrame({"reason_id": list(TEXTS), "experiment": "tb1", "arm": "control",
                            "item_id": ["A", "A", "B", "B"], "segment": None, "text": list(TEXTS.values())})
    return {"exposures": x, "events": e, "users": users, "reasons": reasons, "items": ITEMS}


@pytest.fixture
def tiny_db(tmp_path, log_writer):
    db = tmp_path / "tiny.duckdb"
    log_writer(db, **_tiny_logs())
    return db


def _block(db, spec, **kw):
    con = connect(db)
    try:
        params = build_per_user(spec, con, **kw)
        return text_feature_block(spec, DuckDBEngine(con), params)
    finally:
        con.close()


def _pick(rows, arm, feature, level, metric):
    (row,) = [r for r in rows if (r["arm"], r["feature"], r["level"], r["metric"]) == (arm, feature, level, metric)]
    return row


def test_hand_computed_values(tiny_db):
    rows = _block(tiny_db, parse_spec(dict(SPEC)))
    ctr = {(r["arm"], r["feature"], r["level"]): (r["users"], r["exposures"], r["clicks"], r["orders"])
           for r in rows if r["metric"] == "ctr"}
    # control promo=yes: u1 e1+e3 (k2, o1), u2 e4 (k3); promo=no: u1 e2 (k1), u2 e5, u3 e7
    assert ctr[("control", "mentions_promo", "yes")] == (2, 3, 2, 1)
    assert ctr[("control", "mentions_promo", "no")] == (3, 3, 1, 0)
    assert ctr[("treat", "mentions_promo", "yes")] == (2, 2, 1, 1)
    assert ctr[("treat", "mentions_promo", "no")] == (1, 1, 1, 0)
    assert ctr[("control", "unfaithful", "yes")] == (1, 1, 1, 1)
    assert ctr[("control", "unfaithful", "no")] == (3, 5, 2, 0)
    assert ctr[("control", "length_bucket", "S")] == (3, 5, 2, 0)
    assert ctr[("control", "length_bucket", "other")] == (1, 1, 1, 1)
    # every level of every feature partitions the same text exposures (e6 has no text)
    for arm, total in (("control", 6), ("treat", 3)):
        for f in FEATURES:
            assert sum(v[1] for k, v in ctr.items() if k[:2] == (arm, f)) == total
    r = _pick(rows, "control", "mentions_promo", "yes", "ctr")
    # users (clicks, exposures) = (1, 2), (1, 1): R = 2/3, L = ∓2/9 over d̄ = 1.5, se = 2/9
    assert r["value"] == pytest.approx(2 / 3)
    assert r["se"] == pytest.approx(2 / 9)
    q = sps.t.ppf(0.975, 1)
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((2 / 3 - q * 2 / 9, 2 / 3 + q * 2 / 9))
    assert _pick(rows, "control", "mentions_promo", "yes", "cvr")["value"] == pytest.approx(0.5)
    assert _pick(rows, "control", "mentions_promo", "no", "cvr")["value"] == 0.0
    one = _pick(rows, "treat", "mentions_promo", "no", "ctr")  # a single user: value, no interval
    assert one["value"] == 1.0 and one["ci_low"] is None and "at least 2" in one["warning"]
    assert all(r["note"].startswith("association") for r in rows)


def test_latest_exposure_anchors_the_event(tiny_db):
    """k1 follows e1 (T1, promo) and e2 (T2, no promo): it counts for T2 only, under both attributions."""
    for attribution in ("join", "window"):
        rows = _block(tiny_db, parse_spec(dict(SPEC)), attribution=attribution)
        assert _pick(rows, "control", "mentions_promo", "no", "ctr")["clicks"] == 1
        assert _pick(rows, "control", "mentions_promo", "yes", "ctr")["clicks"] == 2


# --- random logs against a brute-force pandas reference --------------------------------------

POOL = ["限时8折，纯棉T恤超值入手", "纯棉面料柔软透气，夏天穿很舒服", "限时5折抢购中", "好看",
        "羊毛面料保暖舒适，冬季必备大衣，学生党也能轻松入手的高品质好物推荐", "满200减30，今天下单最划算"]
SEGMENTS = ["价格敏感", "注重品质", "学生党", None]


def _with_texts(exposures: pd.DataFrame, n_users: int, seed: int):
    rng = np.random.default_rng(seed)
    x = exposures.copy()
    k = rng.integers(0, 3, len(x))  # up to three texts per item: the same (user, item) sees several
    rid = pd.Series([f"r_{i}_{j}" for i, j in zip(x["item_id"], k, strict=True)], index=x.index, dtype=object)
    x["reason_id"] = rid.where(rng.random(len(x)) >= 0.05, None)  # a few exposures without a text
    rids = sorted(rid.unique())
    reasons = pd.DataFrame({"reason_id": rids, "experiment": "exp1", "arm": "control",
                            "item_id": [r.split("_")[1] for r in rids], "segment": None,
                            "text": [POOL[int(rng.integers(0, len(POOL)))] for _ in rids]})
    item_ids = sorted(x["item_id"].unique())
    items = pd.DataFrame({"item_id": item_ids, "category": "服饰", "brand": "b", "title": "T恤",
                          "price": 100.0, "discount": rng.choice([0.0, 0.2], len(item_ids)),
                          "attributes": '{"材质": "纯棉"}'})
    users = pd.DataFrame({"user_id": sorted(x["user_id"].unique())})
    users["segment"] = [SEGMENTS[i] for i in rng.integers(0, len(SEGMENTS), len(users))]
    return x, reasons, items, users


def _reference(spec, x, events, reasons, items, users) -> pd.DataFrame:
    """Per (arm, feature, level) user sums, brute force: every (event, exposure) pair of the same
    user and item, the qualifying ones, the latest of them (ties: larger reason_id) as the anchor."""
    start, end = (pd.Timestamp(t) for t in spec.window_utc())
    w = x[(x.experiment == spec.key) & (x.ts >= start) & (x.ts < end)]
    arms = w.groupby("user_id")["arm"].agg(["nunique", "first"])
    keep = arms.index[(arms["nunique"] == 1) & arms["first"].isin(spec.arm_names)]
    w = w[w.user_id.isin(keep)].merge(users, on="user_id", how="left")
    w = w.merge(reasons[["reason_id", "text"]], on="reason_id", how="left")
    texts = w[w.text.notna()][["item_id", "text", "segment"]].drop_duplicates()
    feats = text_features(texts, items, segment_aspect=segment_top_aspect)
    w = w.merge(feats, on=["item_id", "text", "segment"], how="left")
    ev = events.drop_duplicates("event_id")
    ev = ev[ev.type.isin(["click", "order"]) & ev.user_id.isin(keep)]
    pairs = ev.merge(w.drop(columns="event_id").rename(columns={"ts": "x_ts"}), on=["user_id", "item_id"])
    win = pd.to_timedelta(np.where(pairs.type == "order", 24, 1), unit="h")
    pairs = pairs[(pairs.x_ts <= pairs.ts) & (pairs.ts <= pairs.x_ts + win)]
    pairs = pairs.assign(rid=pairs.reason_id.fillna("")).sort_values(["event_id", "x_ts", "rid"])
    anchors = pairs.groupby("event_id").tail(1)
    anchors = anchors[anchors.text.notna()]
    shown = w[w.text.notna()].assign(e=1.0, c=0.0, o=0.0)
    hits = anchors.assign(e=0.0, c=(anchors.type == "click") * 1.0, o=(anchors.type == "order") * 1.0)
    both = pd.concat([shown, hits], ignore_index=True)
    out = []
    for f in FEATURES:
        lev = both[f].astype(object).map(lambda v: "unknown" if v is None or v is pd.NA
                                         else ("yes" if v else "no") if isinstance(v, bool | np.bool_) else v)
        per_user = both.assign(level=lev).groupby(["arm", "level", "user_id"])[["e", "c", "o"]].sum().reset_index()
        out.append(per_user.assign(feature=f))
    return pd.concat(out, ignore_index=True)


def _delta_ci(y: np.ndarray, d: np.ndarray, alpha: float = 0.05):
    n, r = len(y), y.sum() / d.sum()
    lin = (y - r * d) / d.mean()
    se = math.sqrt(lin.var(ddof=1) / n)
    q = sps.t.ppf(1 - alpha / 2, n - 1)
    return r, r - q * se, r + q * se


def test_matches_bruteforce_reference_and_numpy_ci(tmp_path, log_writer):
    import importlib.util
    import pathlib

    spec_ = importlib.util.spec_from_file_location("exp_conftest", pathlib.Path(__file__).parents[1] / "conftest.py")
    mod = importlib.util.module_from_spec(spec_)
    spec_.loader.exec_module(mod)
    exposures, events = mod.random_logs(300, 11, days=2)
    x, reasons, items, users = _with_texts(exposures, 300, 11)
    db = tmp_path / "rnd.duckdb"
    log_writer(db, exposures=x, events=events, users=users, reasons=reasons, items=items)
    spec = parse_spec({**SPEC, "key": "exp1"})
    rows = _block(db, spec)
    ref = _reference(spec, x, events, reasons, items, users)
    groups = ref.groupby(["arm", "feature", "level"])
    assert {(r["arm"], r["feature"], r["level"]) for r in rows} == set(groups.groups)
    checked = 0
    for (arm, feature, level), g in groups:
        e, c, o = (g[k].to_numpy() for k in ("e", "c", "o"))
        got_ctr = _pick(rows, arm, feature, level, "ctr")
        assert (got_ctr["users"], got_ctr["exposures"], got_ctr["clicks"], got_ctr["orders"]) == (
            len(g), int(e.sum()), int(c.sum()), int(o.sum()))
        if len(g) >= 2:
            want = _delta_ci(c, e)
            assert (got_ctr["value"], got_ctr["ci_low"], got_ctr["ci_high"]) == pytest.approx(want, rel=1e-9)
            checked += 1
            if c.sum() > 0:
                got_cvr = _pick(rows, arm, feature, level, "cvr")
                assert (got_cvr["value"], got_cvr["ci_low"], got_cvr["ci_high"]) == pytest.approx(
                    _delta_ci(o, c), rel=1e-9, abs=1e-12)
    assert checked >= 12


# --- the one-group ratio interval ------------------------------------------------------------

def test_ratio_interval_coverage_on_clustered_data():
    """Users with heterogeneous CTRs and exposure counts: the delta-method CI covers the true
    ratio about 95% of the time (a binomial CI on exposures would not: clustering)."""
    rng = np.random.default_rng(5)
    reps, n, hits, naive_hits = 1000, 300, 0, 0
    for _ in range(reps):
        d = rng.geometric(0.2, n).astype(float)
        p = rng.beta(0.5, 4.5, n)  # mean 0.1, strongly clustered
        y = rng.binomial(d.astype(int), p).astype(float)
        s = SufficientStats(n, y.sum(), (y * y).sum(), d.sum(), (d * d).sum(), (y * d).sum())
        ci = ratio_interval(s)
        hits += ci.ci_low <= 0.1 <= ci.ci_high
        r = y.sum() / d.sum()
        half = 1.96 * math.sqrt(r * (1 - r) / d.sum())
        naive_hits += r - half <= 0.1 <= r + half
    assert 0.93 <= hits / reps <= 0.97
    assert naive_hits / reps < 0.90  # the exposure-level interval is too narrow here


def test_ratio_interval_edge_cases():
    assert ratio_interval(SufficientStats(3, 0.0, 0.0, 0.0, 0.0, 0.0)).value is None
    one = ratio_interval(SufficientStats(1, 1.0, 1.0, 2.0, 4.0, 2.0))
    assert one.value == 0.5 and one.ci_low is None and one.warning
    with pytest.raises(ValueError):
        ratio_interval(SufficientStats(3, 1.0, 1.0))  # not a ratio


# --- samples and the analyze hook -------------------------------------------------------------

def test_samples_are_seeded_and_grouped(tiny_db):
    spec = parse_spec(dict(SPEC))
    con = connect(tiny_db)
    try:
        params = build_per_user(spec, con)
        first = sample_block(spec, DuckDBEngine(con), params)
        again = sample_block(spec, DuckDBEngine(con), params)
        one = sample_block(spec, DuckDBEngine(con), params, per_group=1)
        other_seed = sample_block(parse_spec({**SPEC, "key": "tb2"}), DuckDBEngine(con), params, per_group=1)
    finally:
        con.close()
    assert first == again
    u1 = [s for s in first if s["arm"] == "control" and s["segment"] == "注重品质"]
    assert sorted((s["item_id"], s["text"]) for s in u1) == sorted(
        [("A", TEXTS["T1"]), ("A", TEXTS["T2"]), ("B", TEXTS["T3"])])
    assert {s["title"] for s in u1} == {"纯棉T恤", "羊毛大衣"}
    assert all(s["exposures"] >= 1 for s in first)
    groups = {(s["arm"], s["segment"]) for s in first}
    assert len(one) == len(groups) and {(s["arm"], s["segment"]) for s in one} == groups
    assert [s["arm"] for s in first] == sorted((s["arm"] for s in first), key=["control", "treat"].index)
    assert len(other_seed) == len(one)


def test_analyze_carries_blocks_and_json_has_no_nan(tiny_db):
    con = connect(tiny_db)
    try:
        res = analyze(parse_spec(dict(SPEC)), con)
    finally:
        con.close()
    d = res.to_json()
    json.dumps(d, allow_nan=False)
    assert d["text_features"] and d["samples"] and d["daily"]
    assert "association" in d["text_features_note"]
    assert {"arm", "feature", "level", "metric", "value", "ci_low", "ci_high", "exposures"} <= set(d["text_features"][0])
    assert {"arm", "segment", "item_id", "text"} <= set(d["samples"][0])


def test_a_failing_block_becomes_a_note(tiny_db, monkeypatch):
    from experiments.analysis import queries as q
    from experiments.analysis import samples, text_behaviour

    def missing_table(name, *args, **kwargs):  # the text-feature and sample blocks' SQL reads a table that is not there
        return q.Query(name, "SELECT * FROM abkit_no_such_table")

    monkeypatch.setattr(text_behaviour, "block_query", missing_table)
    monkeypatch.setattr(samples, "block_query", missing_table)
    con = connect(tiny_db)
    try:
        with pytest.warns(UserWarning) as caught:
            res = analyze(parse_spec(dict(SPEC)), con, text_metrics=True)
    finally:
        con.close()
    assert "text_features" not in res.to_json() and "samples" not in res.to_json() and res.to_json()["daily"]
    assert any("text_features block could not be computed" in n for n in res.to_json()["notes"])
    assert {"text_features", "samples"} <= {b for w in caught for b in BLOCKS if repr(b) in str(w.message)}
    assert res.to_json()["metrics"]

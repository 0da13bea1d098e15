"""The traffic simulator: text features, behaviour, determinism, schemas, truth and stress options."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from abkit.spec import parse_spec
from abkit.stats import SufficientStats, compare, srm_test
from abkit.warehouse import connect
from abkit.world.catalog import make_catalog
from experiments.ingest.files import ingest_files
from experiments.simulate import textfeatures as tf
from experiments.simulate.pipeline import simulate_into
from experiments.simulate.population import make_users
from experiments.simulate.traffic import SimOptions, build_world, chunk_tables, iter_chunks, user_outcomes
from experiments.simulate.truth import DelayModel, TruthAccumulator
from generators.corpus import build_corpus

SPEC = {
    "key": "sim_test", "start": "2026-11-01", "end": "2026-11-08", "timezone": "Asia/Shanghai",
    "primary_metric": "ctr",
    "arms": [{"name": "control", "weight": 0.5}, {"name": "treatment", "weight": 0.5}],
}


def _spec(**over):
    return parse_spec({**SPEC, **over})


@pytest.fixture(scope="module")
def items() -> pd.DataFrame:
    return make_catalog(600, seed=5)


@pytest.fixture(scope="module")
def reasons(items) -> pd.DataFrame:
    """Control: one plain non-personalized text per item; treatment: persona-aware texts."""
    ctrl = build_corpus(items, personas=[None], seed=1).assign(arm="control")
    treat = build_corpus(items, seed=2).assign(arm="treatment")
    r = pd.concat([ctrl, treat], ignore_index=True)
    r["reason_id"] = [f"r{i:06d}" for i in range(len(r))]
    r["experiment"] = SPEC["key"]
    return r[["reason_id", "experiment", "arm", "item_id", "segment", "text"]]


def _simulate(spec, users, items, reasons, **opts):
    world = build_world(spec, users, items, reasons, SimOptions(**opts))
    chunks = list(iter_chunks(world))
    return world, chunks


# --- the simulator's own text features ------------------------------------------------------

def test_text_features_agree_with_the_grammars_gold_labels(items):
    corpus = build_corpus(items.head(300), seed=3, corrupt_rate=0.3)
    by_id = items.set_index("item_id")
    it = by_id.loc[corpus["item_id"]]
    f = tf.text_features(corpus["text"].tolist(), it["attributes"].tolist(), it["price"].tolist(),
                         it["discount"].tolist())
    claims = corpus["corrupted"].isin(["wrong_value", "invented_spec", "fake_discount"]).to_numpy()
    clean = corpus["corrupted"].isna().to_numpy()
    assert f["unfaithful"][claims].mean() > 0.8  # recall on corrupted claims
    assert f["unfaithful"][clean].mean() < 0.05  # few false alarms on clean rows
    assert f["banned"][(corpus["corrupted"] == "banned_term").to_numpy()].mean() > 0.95
    assert f["banned"][clean].mean() < 0.01
    gold = [{a for a, _ in json.loads(m)} for m in corpus["mentions"]]
    hit = [all(f["mentions"][i, tf.ATTR_INDEX[a]] for a in g if a in tf.ATTR_INDEX)
           for i, g in enumerate(gold) if clean[i]]
    assert np.mean(hit) > 0.9
    promo = corpus["mentions_promo"].to_numpy() & clean
    assert f["promo_real"][promo].mean() > 0.9


def test_behaviour_effects_have_the_documented_directions():
    n_a = len(tf.ATTRS)
    base = {"mentions": np.zeros((1, n_a), bool), "hooks": np.zeros((1, len(tf.PERSONAS)), bool),
            "unfaithful": np.zeros(1, bool), "promo_real": np.zeros(1, bool), "promo_claim": np.zeros(1, bool),
            "banned": np.zeros(1, bool), "n_chars": np.array([22])}

    def eff(**kw):
        f = {k: v.copy() for k, v in base.items()}
        for k, v in kw.items():
            f[k] = v
        return tf.behaviour_effects(f)

    p = tf.PERSONA_INDEX["价格敏感"]
    q = tf.PERSONA_INDEX["科技发烧友"]
    e0 = eff()
    m = np.zeros((1, n_a), bool)
    m[0, tf.ATTR_INDEX["规格"]] = True
    assert eff(mentions=m)["ctr"][0, q] > e0["ctr"][0, q]  # the persona's top aspect
    promo = eff(promo_real=np.ones(1, bool))
    assert promo["ctr"][0, p] > e0["ctr"][0, p] and promo["ctr"][0, q] == e0["ctr"][0, q]
    unf = eff(unfaithful=np.ones(1, bool))
    assert unf["ctr"][0, q] > e0["ctr"][0, q] and unf["cvr"][0, q] < e0["cvr"][0, q] and unf["refund"][0] > 1
    np.testing.assert_array_equal(eff(banned=np.ones(1, bool))["ctr"], e0["ctr"])
    lengths = [eff(n_chars=np.array([n]))["ctr"][0, q] for n in (8, 22, 45)]
    assert lengths[1] > lengths[0] and lengths[1] > lengths[2]


def test_delay_model_cdfs_match_its_own_draws():
    d = DelayModel()
    rng = np.random.default_rng(0)
    c, o = d.sample_click(rng, 400_000), d.sample_order(rng, 400_000)
    assert abs((c <= 3600).mean() - d.click_cdf(3600)) < 0.002
    assert abs((c + o <= 86400).mean() - d.click_then_order_cdf(86400)) < 0.002
    assert 0 < 1 - d.click_cdf(3600) < 0.05  # some clicks land beyond a 1-hour window


# --- determinism and the data contract ------------------------------------------------------

def test_same_seed_same_logs_and_another_seed_differs(items, reasons):
    spec, users = _spec(), make_users(3000, seed=1)
    tables = []
    for seed in (4, 4, 5):
        world, chunks = _simulate(spec, users, items, reasons, seed=seed, chunk_users=1000)
        tables.append([chunk_tables(world, ch) for ch in chunks])
    for (x1, e1), (x2, e2) in zip(tables[0], tables[1], strict=True):
        assert x1.equals(x2) and e1.equals(e2)
    assert not tables[0][0][0].equals(tables[2][0][0])


@pytest.fixture(scope="module")
def simulated_db(tmp_path_factory, items, reasons):
    """A plain simulation through the real ingestion path; treatment lacks texts for 10% of items."""
    d = tmp_path_factory.mktemp("sim")
    con = connect(d / "w.duckdb")
    items.to_parquet(d / "items.parquet", index=False)
    ingest_files(con, "items", [d / "items.parquet"])
    missing = set(items["item_id"].iloc[::10])
    r = reasons[~((reasons["arm"] == "treatment") & reasons["item_id"].isin(missing))]
    r.to_parquet(d / "reasons.parquet", index=False)
    ingest_files(con, "reasons", [d / "reasons.parquet"])
    spec = _spec()
    out = simulate_into(spec, con, SimOptions(seed=2), n_users=8000, out_dir=d / "out", truth_path=d / "truth.json")
    yield spec, con, out, d, missing
    con.close()


def test_simulated_logs_conform_to_the_contract_and_ingest_cleanly(simulated_db):
    spec, con, out, d, _ = simulated_db
    xs = pq.read_schema(out.files["exposures"][0])
    assert {"event_id", "ts", "experiment", "user_id", "item_id", "arm", "reason_id", "fallback"} <= set(xs.names)
    es = pq.read_schema(out.files["events"][0])
    assert {"event_id", "ts", "user_id", "item_id", "type", "revenue", "order_id"} <= set(es.names)
    assert con.execute("SELECT count(*) FROM quarantine").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM exposures").fetchone()[0] == out.counts["exposures"]
    assert con.execute("SELECT count(*) FROM events").fetchone()[0] == out.counts["events"]
    types = dict(con.execute("SELECT type, count(*) FROM events GROUP BY type").fetchall())
    assert set(types) == {"click", "cart", "order", "refund"}
    bad = con.execute("""SELECT count(*) FROM events WHERE (type IN ('order', 'refund') AND (revenue IS NULL
                         OR revenue < 0 OR order_id IS NULL)) OR (type IN ('click', 'cart') AND revenue IS NOT NULL)""")
    assert bad.fetchone()[0] == 0
    start, end = spec.window_utc()
    lo, hi, arms = con.execute("SELECT min(ts), max(ts), list(DISTINCT arm) FROM exposures").fetchone()
    assert start <= lo and hi < end + dt.timedelta(hours=1) and sorted(arms) == ["control", "treatment"]
    # pre-period history before the start exists (CUPED), and some events land after the end
    assert con.execute("SELECT count(*) FROM events WHERE ts < ?", [start]).fetchone()[0] > 0
    assert con.execute("SELECT count(*) FROM events WHERE ts >= ?", [end]).fetchone()[0] > 0
    # every shown reason joins to the arm's reasons; users are logged in their assigned arm
    orphan = con.execute("""SELECT count(*) FROM exposures x LEFT JOIN reasons r USING (reason_id)
                            WHERE x.reason_id IS NOT NULL AND (r.reason_id IS NULL OR r.arm <> x.arm)""")
    assert orphan.fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM (SELECT user_id FROM exposures GROUP BY user_id "
                       "HAVING count(DISTINCT arm) > 1)").fetchone()[0] == 0


def test_fallback_logs_the_assigned_arm_and_its_rate_is_reported(simulated_db):
    spec, con, out, d, missing = simulated_db
    rows = con.execute("""SELECT arm, item_id IN (SELECT unnest(?)) AS missing, fallback, reason_id IS NULL
                          FROM exposures""", [sorted(missing)]).df()
    rows.columns = ["arm", "missing", "fallback", "no_reason"]
    treat = rows[rows["arm"] == "treatment"]
    assert treat.loc[treat["missing"], "fallback"].all() and treat.loc[treat["missing"], "no_reason"].all()
    assert not treat.loc[~treat["missing"], "fallback"].any()
    assert not rows.loc[rows["arm"] == "control", "fallback"].any()
    assert out.fallback_rate["treatment"] == pytest.approx(treat["fallback"].mean())
    assert 0.05 < out.fallback_rate["treatment"] < 0.2 and out.fallback_rate["control"] == 0
    assert json.loads((d / "truth.json").read_text())["fallback_rate"]["treatment"] == out.fallback_rate["treatment"]


def test_truth_file_has_the_contract_metrics_and_a_few_percent_ctr_lift(simulated_db):
    truth = json.loads((simulated_db[3] / "truth.json").read_text())
    for arm in ("control", "treatment"):
        for m in ("ctr", "cvr", "conversion_rate", "orders_per_user", "revenue_per_user"):
            assert truth["arms"][arm][m] > 0
    assert 0.01 < truth["rel_lift"]["treatment"]["ctr"] < 0.08
    assert 0.02 < truth["arms"]["control"]["ctr"] < 0.08


def test_truth_by_segment_adds_up_and_matches_the_logs(simulated_db):
    """Per-segment true CTRs, weighted by the segment's exposures, give the overall truth; the realized
    per-segment CTR of the logs (clicks from the SQL's per-user table) is close to its truth."""
    from experiments.analysis.stages import per_user_frame

    spec, con, _, d, _ = simulated_db
    truth = json.loads((d / "truth.json").read_text())
    segs = truth["by_segment"]
    assert len(segs) >= 10
    total = sum(s["exposures"] for s in segs.values())
    for arm in ("control", "treatment"):
        pooled = sum(s["ctr"][arm] * s["exposures"] for s in segs.values()) / total
        assert pooled == pytest.approx(truth["arms"][arm]["ctr"], rel=1e-9)
    for s in segs.values():
        assert s["rel_lift"]["treatment"]["ctr"] == pytest.approx(s["ctr"]["treatment"] / s["ctr"]["control"] - 1)
    pu = per_user_frame(spec, con)
    seg = dict(con.execute("SELECT user_id, segment FROM users").fetchall())
    pu["segment"] = pu["user_id"].map(seg)
    from abkit.stats import SufficientStats, ratio_interval

    z = []
    for k, s_ in segs.items():
        g = pu[(pu["segment"] == k) & (pu["arm"] == "control")]
        y, x = g["clicks"].to_numpy(float), g["exposures"].to_numpy(float)
        ci = ratio_interval(SufficientStats(len(g), y.sum(), (y * y).sum(), x.sum(), (x * x).sum(), (y * x).sum()))
        z.append((ci.value - s_["ctr"]["control"]) / ci.se)
    assert max(abs(v) for v in z) < 3.5  # realized per-segment CTR within noise of its truth (user-clustered se)
    assert np.mean(z) < 2.5


def test_numpy_outcomes_match_the_analysis_sql(simulated_db, items, reasons):
    """The per-user sufficient-statistics path equals the analysis's per-user SQL on the same logs."""
    from experiments.analysis.stages import per_user_frame

    spec, con, *_ = simulated_db
    sql = per_user_frame(spec, con).set_index("user_id")
    world = build_world(spec, make_users(8000, seed=2), items,
                        con.execute("SELECT * FROM reasons").df(), SimOptions(seed=2))
    chunks = list(iter_chunks(world))
    ours = pd.concat([user_outcomes(world, ch) for ch in chunks])
    ids = np.concatenate([ch.user_ids.to_numpy(zero_copy_only=False) for ch in chunks])
    ours.index = pd.Series(ids, index=np.concatenate([ch.users for ch in chunks])).loc[ours["user"]].to_numpy()
    assert set(ours.index) == set(sql.index)
    s = sql.loc[ours.index]
    assert (ours["exposures"].to_numpy() == s["exposures"].to_numpy()).all()
    for col in ("clicks", "orders", "pre_clicks", "pre_orders"):
        # SQL may also credit a late action to a second exposure of the same item: rare
        diff = s[col].to_numpy() - ours[col].to_numpy()
        assert (diff >= 0).all() and diff.sum() <= 0.01 * max(s[col].sum(), 1), col
    np.testing.assert_allclose(s["revenue"].sum(), ours["revenue"].sum(), rtol=0.01)


# --- stress options ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def stressed(tmp_path_factory, items, reasons):
    d = tmp_path_factory.mktemp("stress")
    con = connect(d / "w.duckdb")
    items.to_parquet(d / "items.parquet", index=False)
    ingest_files(con, "items", [d / "items.parquet"])
    reasons.to_parquet(d / "reasons.parquet", index=False)
    ingest_files(con, "reasons", [d / "reasons.parquet"])
    spec = _spec()
    opts = SimOptions(seed=9, srm_bug=0.25, bots=3, duplicates=0.05, late_events=0.05, clock_skew=900,
                      promo_day=dt.date(2026, 11, 4), novelty=True)
    out = simulate_into(spec, con, opts, n_users=8000, out_dir=d / "out")
    yield spec, con, out
    con.close()


def test_srm_bug_is_flagged(stressed):
    from experiments.analysis.analyze import analyze

    spec, con, out = stressed
    users = analyze(spec, con).to_json()["users"]
    assert srm_test([users["control"], users["treatment"]], spec.weights).p_value < 0.001
    assert users["treatment"] < 0.95 * users["control"] and out.counts["users_lost_srm_bug"] > 0


def test_bots_are_visible(stressed):
    _, con, _ = stressed
    top = con.execute("""SELECT user_id, count(*) AS n FROM exposures GROUP BY user_id ORDER BY n DESC LIMIT 3""").fetchall()
    assert all(u.startswith("bot") and n >= 1000 for u, n in top)


def test_duplicates_are_in_the_files_and_not_in_the_tables(stressed):
    _, con, out = stressed
    for name in ("exposures", "events"):
        ids = pq.read_table(out.files[name][0], columns=["event_id"]).column(0)
        assert len(ids) > len(ids.unique()) * 1.03
        stored = con.execute(f"SELECT count(*), count(DISTINCT event_id) FROM {name}").fetchone()
        assert stored[0] == stored[1]


def test_late_events_arrive_in_a_later_batch(stressed):
    _, con, out = stressed
    late = pq.read_table(out.files["events_late"][0])
    assert 0.03 < late.num_rows / out.counts["events"] < 0.07
    last_main = con.execute("SELECT max(ingested_at) FROM events WHERE source_file NOT LIKE '%late%'").fetchone()[0]
    n_later = con.execute("SELECT count(*) FROM events WHERE ingested_at > ?", [last_main]).fetchone()[0]
    assert n_later == late.num_rows


def test_clock_skew_puts_client_events_before_their_exposure(stressed, simulated_db):
    q = """SELECT count(*) FROM events e WHERE e.type = 'click' AND e.ts < (
             SELECT min(x.ts) FROM exposures x WHERE x.user_id = e.user_id AND x.item_id = e.item_id)"""
    assert stressed[1].execute(q).fetchone()[0] > 10
    assert simulated_db[1].execute(q).fetchone()[0] == 0


def test_promo_day_spikes_and_novelty_decays(stressed):
    spec, con, out = stressed
    by_day = out.truth["by_day"]
    exposures = {d: v["control"]["exposures"] for d, v in by_day.items()}
    assert exposures["2026-11-04"] > 2.2 * np.mean([exposures["2026-11-03"], exposures["2026-11-05"]])
    lift = {d: v["treatment"]["ctr"] / v["control"]["ctr"] - 1 for d, v in by_day.items()}
    assert lift["2026-11-01"] > 1.5 * lift["2026-11-07"] > 0
    local_days = con.execute("""SELECT strftime(timezone('Asia/Shanghai', timezone('UTC', ts)), '%Y-%m-%d') AS d,
                                count(*) FROM exposures WHERE NOT starts_with(user_id, 'bot') GROUP BY d""").fetchall()
    counts = dict(local_days)
    assert counts["2026-11-04"] > 2.2 * counts["2026-11-05"]


def test_aa_mode_makes_every_arm_identical(items, reasons):
    spec = _spec()
    world, chunks = _simulate(spec, make_users(3000, seed=3), items, reasons, seed=1, mode="aa")
    truth = TruthAccumulator(world.arms, world.day_names)
    for ch in chunks:
        truth.merge(ch.truth)
    t = truth.metrics()
    for m, v in t["control"].items():
        assert t["treatment"][m] == pytest.approx(v, rel=1e-12)
    x, _ = chunk_tables(world, chunks[0])
    shown = x.to_pandas()
    control_ids = set(reasons.loc[reasons["arm"] == "control", "reason_id"])
    assert shown["reason_id"].dropna().isin(control_ids).all()


# --- truth recovered: CI coverage over 1,000 runs (sufficient-statistics level) ---------------

def _run_stats(frame: pd.DataFrame, metric: str, run: np.ndarray, arm: int, n_runs: int) -> list[SufficientStats]:
    from abkit.metrics import METRICS

    m = METRICS[metric]
    sel = frame["arm"].to_numpy() == arm
    r = run[sel]

    def s(v):
        return np.bincount(r, weights=np.asarray(v, float)[sel], minlength=n_runs)

    y = frame[m.numerator].to_numpy(float)
    x = frame[m.covariate].to_numpy(float)
    cols = {"n": np.bincount(r, minlength=n_runs), "sum_y": s(y), "sum_y2": s(y * y),
            "sum_x": s(x), "sum_x2": s(x * x), "sum_xy": s(x * y)}
    if m.denominator:
        dd = frame[m.denominator].to_numpy(float)
        cols.update(sum_d=s(dd), sum_d2=s(dd * dd), sum_yd=s(y * dd), sum_xd=s(x * dd))
    return [SufficientStats(n=int(cols["n"][i]), **{k: float(v[i]) for k, v in cols.items() if k != "n"})
            for i in range(n_runs)]


def coverage_study(mode: str, n_runs: int, users_per_run: int, metrics: list[str], seed: int = 0):
    """Runs = disjoint blocks of distinct users; truth = all runs' expectations pooled."""
    spec = _spec()
    items = make_catalog(400, seed=seed)
    ctrl = build_corpus(items, personas=[None], seed=1).assign(arm="control")
    treat = build_corpus(items, seed=2).assign(arm="treatment")
    reasons = pd.concat([ctrl, treat], ignore_index=True)
    reasons["reason_id"] = [f"r{i}" for i in range(len(reasons))]
    users = make_users(n_runs * users_per_run, seed=seed)
    world = build_world(spec, users, items, reasons, SimOptions(seed=seed, mode=mode, chunk_users=250_000))
    truth = TruthAccumulator(world.arms, world.day_names)
    frames = []
    for ch in iter_chunks(world):
        truth.merge(ch.truth)
        frames.append(user_outcomes(world, ch))
    frame = pd.concat(frames, ignore_index=True)
    run = frame["user"].to_numpy() // users_per_run
    t = truth.metrics()
    out = {}
    for m in metrics:
        true_lift = t["treatment"][m] / t["control"][m] - 1
        c, tr = _run_stats(frame, m, run, 0, n_runs), _run_stats(frame, m, run, 1, n_runs)
        res = [compare(a, b, alpha=0.05, cuped=True) for a, b in zip(c, tr, strict=True)]
        covered = [r.rel_ci_low <= true_lift <= r.rel_ci_high for r in res if r.rel_ci_low is not None]
        rejected = [r.p_value < 0.05 for r in res if r.p_value is not None]
        out[m] = {"true_lift": true_lift, "coverage": float(np.mean(covered)), "reject": float(np.mean(rejected)),
                  "runs": len(covered)}
    return out


@pytest.mark.slow
def test_ci_covers_the_true_effect_over_1000_runs():
    # ctr and cvr: ratio metrics over thousands of exposures / hundreds of clicks per arm. (With
    # ~730 analysis users per arm, per-user revenue is too skewed for a delta-method relative CI:
    # it covers ~85% here and ~94.5% at 10k users per run — a small-sample effect, not a bias.)
    res = coverage_study("normal", 1000, 2000, ["ctr", "cvr"], seed=11)
    assert res["ctr"]["true_lift"] > 0.01
    for m, r in res.items():
        # cvr has a few dozen orders per arm: runs below the small-sample rule (fewer than 10 users
        # with an order in an arm) give no interval by design and are not counted
        assert r["runs"] >= (990 if m == "ctr" else 850), (m, r)
        assert abs(r["coverage"] - 0.95) <= 0.021, (m, r)


@pytest.mark.slow
def test_aa_false_positive_rate_is_nominal_over_1000_runs():
    res = coverage_study("aa", 1000, 2000, ["ctr", "cvr", "conversion_rate", "revenue_per_user"], seed=12)
    for m, r in res.items():
        assert r["true_lift"] == pytest.approx(0.0, abs=1e-12)
        assert r["reject"] <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / r["runs"]), (m, r)


def test_simulate_cli_writes_logs_and_truth(tmp_path):
    from typer.testing import CliRunner

    from abkit.cli import app

    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(json.dumps(SPEC), encoding="utf-8")
    db, truth = tmp_path / "w.duckdb", tmp_path / "truth.json"
    args = ["simulate", str(spec_path), "--db", str(db), "--users", "1500", "--items", "300",
            "--seed", "3", "--truth", str(truth), "--duplicates", "0.02"]
    # no texts in the warehouse: every arm would show the fallback (an A/A test by accident) — refused
    # before any log is written; the world (catalog, users) stays for `abkit generate`
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 2 and "A/A test by accident" in refused.output
    assert "catalog and users were stored" in refused.output and not truth.exists()
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM exposures").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM items").fetchone()[0] == 300
    res = CliRunner().invoke(app, [*args, "--mode", "aa"])  # an intended A/A test runs
    assert res.exit_code == 0, res.output
    t = json.loads(truth.read_text())
    assert set(t["arms"]) == {"control", "treatment"}
    assert {"ctr", "cvr", "conversion_rate", "orders_per_user", "revenue_per_user"} <= set(t["arms"]["control"])
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM users").fetchone()[0] == 1500
        assert con.execute("SELECT count(*) FROM exposures").fetchone()[0] > 1000
    assert "fallback rate 100.00%" in res.output
    bad = CliRunner().invoke(app, ["simulate", str(spec_path), "--db", str(db), "--srm-bug", "1.5"])
    assert bad.exit_code == 2 and "srm-bug" in bad.output

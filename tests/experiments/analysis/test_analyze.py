"""`analyze` end to end: docs/interface.md, Analysis JSON JSON, numbers against scipy/statsmodels on the per-user table."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests
from typer.testing import CliRunner

from abkit.warehouse import connect
from experiments.analysis.analyze import analyze
from experiments.analysis.stages import per_user_frame

REQUIRED_KEYS = {"experiment", "control", "window_utc", "users", "excluded_multi_arm_users", "srm", "metrics",
                 "diversity", "decision"}
ROW_KEYS = {"metric", "arm", "baseline", "family", "control_value", "treatment_value", "abs_lift", "rel_lift",
            "rel_ci_low", "rel_ci_high", "p_value", "p_value_adjusted", "cuped", "variance_reduction", "warning"}


@pytest.fixture
def world(random_world):
    db, _, _ = random_world(n_users=800, seed=7, effect=1.0)
    return db


def _run(db, spec, **kw):
    con = connect(db)
    try:
        return analyze(spec, con, text_metrics=False, **kw), per_user_frame(spec, con)
    finally:
        con.close()


def _row(result, metric, arm="treat", baseline="control"):
    (row,) = [r for r in result.to_json()["metrics"] if (r["metric"], r["arm"], r["baseline"]) == (metric, arm, baseline)]
    return row


def test_json_shape_and_no_nan(world, spec_from):
    res, _ = _run(world, spec_from(end="2026-11-04", cuped=False))
    d = res.to_json()
    assert REQUIRED_KEYS <= set(d)
    assert d["window_utc"] == ["2026-11-01T00:00:00Z", "2026-11-04T00:00:00Z"]
    metrics = {(r["metric"], r["arm"]) for r in d["metrics"]}
    for m in ("ctr", "cvr", "conversion_rate", "orders_per_user", "revenue_per_user"):
        assert (m, "treat") in metrics
    assert len(metrics) == len(d["metrics"])  # one row per (metric, arm)
    for r in d["metrics"]:
        assert ROW_KEYS <= set(r)
    assert {r["family"] for r in d["metrics"]} == {"primary", "secondary"}
    assert d["decision"]["action"] in {"ship", "keep_running", "stop", "no_decision"}
    assert all(isinstance(s, str) and s.endswith(".") for s in d["decision"]["reasons"])
    json.dumps(d, allow_nan=False)  # raises on NaN/Infinity
    assert res.to_frame().shape[0] == len(d["metrics"])


def test_numbers_match_scipy_on_the_per_user_table(world, spec_from):
    spec = spec_from(end="2026-11-04", cuped=False)
    res, pu = _run(world, spec)
    c, t = pu[pu.arm == "control"], pu[pu.arm == "treat"]
    assert res.to_json()["users"] == {"control": len(c), "treat": len(t)}
    # means and proportions: Welch's t on per-user values
    for metric, col in (("revenue_per_user", "revenue"), ("orders_per_user", "orders"),
                        ("conversion_rate", "converted")):
        row = _row(res, metric)
        assert row["abs_lift"] == pytest.approx(t[col].mean() - c[col].mean(), rel=1e-9)
        assert row["control_value"] == pytest.approx(c[col].mean(), rel=1e-12)
        # below the small-sample rule (fewer than 10 effective users with a non-zero value in an arm,
        # (Σy)²/Σy²; for a 0/1 value also 10 without) no Welch p
        few = min(min(arm[col].sum() ** 2 / (arm[col] ** 2).sum(), len(arm) - arm[col].sum()
                      if metric == "conversion_rate" else np.inf) for arm in (c, t)) < 10
        assert bool(few) is ("Too few events" in (row["warning"] or "")), metric
        if few:
            assert row["rel_ci_low"] is None or metric == "conversion_rate"
            continue
        ref = sps.ttest_ind(t[col], c[col], equal_var=False)
        assert row["p_value"] == pytest.approx(ref.pvalue, rel=1e-6), metric
    # ratio (CTR): delta method over users = Welch on the linearized per-user values
    row = _row(res, "ctr")
    r_c, r_t = c.clicks.sum() / c.exposures.sum(), t.clicks.sum() / t.exposures.sum()
    lin_c = (c.clicks - r_c * c.exposures) / c.exposures.mean()
    lin_t = (t.clicks - r_t * t.exposures) / t.exposures.mean()
    ref = sps.ttest_ind_from_stats(r_t, lin_t.std(ddof=1), len(t), r_c, lin_c.std(ddof=1), len(c), equal_var=False)
    assert row["treatment_value"] == pytest.approx(r_t) and row["control_value"] == pytest.approx(r_c)
    assert row["p_value"] == pytest.approx(ref.pvalue, rel=1e-6)
    assert row["p_value"] < 0.05  # a doubled click rate is there to be found
    # SRM: chi-square against the weights
    ref = sps.chisquare([len(c), len(t)])
    assert res.to_json()["srm"]["p_value"] == pytest.approx(ref.pvalue, rel=1e-9)
    # Holm within the secondary family
    sec = [r for r in res.to_json()["metrics"] if r["family"] == "secondary" and r["p_value"] is not None]
    adj = multipletests([r["p_value"] for r in sec], method="holm")[1]
    assert [r["p_value_adjusted"] for r in sec] == pytest.approx(list(adj))


def test_three_arms_comparisons_and_families(random_world, spec_from):
    db, _, _ = random_world(n_users=900, seed=3, arms=("control", "a", "b"))
    spec = spec_from(end="2026-11-04", arms=[{"name": n, "weight": w} for n, w in
                                             (("control", 0.34), ("a", 0.33), ("b", 0.33))],
                     comparisons=[["b", "a"]], guardrails=[{"metric": "revenue_per_user", "margin": 0.5}])
    res, _ = _run(db, spec)
    prim = [r for r in res.to_json()["metrics"] if r["family"] == "primary"]
    assert {r["arm"] for r in prim} == {"a", "b"} and all(r["baseline"] == "control" for r in prim)
    adj = multipletests([r["p_value"] for r in prim], method="holm")[1]
    assert [r["p_value_adjusted"] for r in prim] == pytest.approx(list(adj))
    comp = [r for r in res.to_json()["metrics"] if r["baseline"] == "a"]
    assert comp and all(r["arm"] == "b" and r["family"].startswith("comparison:") for r in comp)
    assert {(g["metric"], g["arm"]) for g in res.to_json()["guardrails"]} == {("revenue_per_user", "a"),
                                                                       ("revenue_per_user", "b")}


def test_breakdown_is_its_own_family(world, spec_from):
    res, pu = _run(world, spec_from(end="2026-11-04"), dimensions=["platform"])
    rows = res.to_json()["breakdowns"]["platform"]
    assert {r["family"] for r in rows} == {"breakdown:platform"}
    assert {r["value"] for r in rows} == {"ios", "android"}
    ctr = [r for r in rows if r["metric"] == "ctr"]
    assert sum(sum(r["users"].values()) for r in ctr) == sum(res.to_json()["users"].values())
    tested = [r for r in rows if r["p_value"] is not None]  # small-sample rows are not tests
    adj = multipletests([r["p_value"] for r in tested], method="holm")[1]
    assert [r["p_value_adjusted"] for r in tested] == pytest.approx(list(adj))


def test_winsorize_caps_at_pooled_percentile_of_nonzero_values(world, spec_from):
    spec = spec_from(end="2026-11-04", winsorize=0.9, cuped=False)
    res, pu = _run(world, spec)
    nz = pu.loc[pu.arm.isin(["control", "treat"]) & (pu.revenue > 0), "revenue"]
    cap = np.percentile(pu.loc[pu.revenue > 0, "revenue"], 90)  # linear = percentile_cont
    assert res.to_json()["winsorize_caps"]["revenue"] == pytest.approx(cap)
    assert len(nz) > 10
    row = _row(res, "revenue_per_user")
    t = pu[pu.arm == "treat"]
    assert row["treatment_value"] == pytest.approx(np.minimum(t.revenue, cap).mean())


def test_srm_mismatch_stops(world, spec_from):
    spec = spec_from(end="2026-11-04", arms=[{"name": "control", "weight": 0.8}, {"name": "treat", "weight": 0.2}])
    res, _ = _run(world, spec)
    assert res.to_json()["srm"]["ok"] is False
    assert res.decision.action == "stop" and "Sample ratio mismatch" in res.decision.reasons[0]


def test_keep_running_until_planned_sample(world, spec_from):
    res, _ = _run(world, spec_from(end="2026-11-04", planned_users_per_arm=100_000))
    assert res.decision.action == "keep_running"
    assert res.to_json()["sample_reached"] is False


def test_sequential_fields(world, spec_from):
    res, _ = _run(world, spec_from(end="2026-11-04", sequential={"enabled": True, "tuning_n": 500}))
    row = _row(res, "ctr")
    assert row["seq_rel_ci_low"] < row["rel_ci_low"] and row["seq_rel_ci_high"] > row["rel_ci_high"]
    assert row["seq_p_value"] >= row["p_value"]


def test_as_of_reports_open_windows(world, spec_from):
    res, _ = _run(world, spec_from(end="2026-11-04"), as_of=dt.datetime(2026, 11, 2, 12))
    assert res.to_json()["as_of"] == "2026-11-02T12:00:00Z"
    assert sum(res.to_json()["open_window_users"].values()) > 0


def test_cli_writes_json_and_history(world, tmp_path):
    from abkit.cli import app

    spec = tmp_path / "spec.yaml"
    spec.write_text("key: exp1\narms: [{name: control, weight: 0.5}, {name: treat, weight: 0.5}]\n"
                    "start: 2026-11-01\nend: 2026-11-04\nprimary_metric: ctr\nmde: 0.2\n", encoding="utf-8")
    out = tmp_path / "out.json"
    runner = CliRunner()
    for _ in range(2):
        r = runner.invoke(app, ["analyze", str(spec), "--db", str(world), "--json", str(out), "--no-text-metrics"])
        assert r.exit_code == 0, r.output
    d = json.loads(out.read_text(encoding="utf-8"))
    assert d["experiment"] == "exp1" and d["metrics"]
    con = connect(world, read_only=True)
    assert con.execute("SELECT count(*) FROM results WHERE experiment = 'exp1'").fetchone()[0] == 2
    con.close()
    r = runner.invoke(app, ["analyze", str(spec), "--db", str(world), "--no-text-metrics", "--timings"])
    assert r.exit_code == 0, r.output
    lines = dict(ln.rsplit(None, 2)[:2] for ln in r.stderr.splitlines() if ln.endswith(" s"))
    assert {"per_user", "arm_sums", "daily", "cumulative", "stats", "total"} <= set(lines), r.stderr
    assert float(lines["total"]) >= float(lines["per_user"]) > 0
    r = runner.invoke(app, ["analyze", str(spec), "--db", str(world), "--show-sql"])
    assert r.exit_code == 0 and "window_exposures AS" in r.output and "anchor_ts" in r.output
    r = runner.invoke(app, ["plan", str(spec), "--db", str(world)])
    assert r.exit_code == 0 and "users per arm" in r.output, r.output
    r = runner.invoke(app, ["analyze", str(spec), "--db", str(world), "--dimension", "nope"])
    assert r.exit_code == 2 and "nope" in r.output



def test_diversity_block_and_text_guardrail_stop(tmp_path, log_writer, spec_from):
    import pandas as pd

    n = 40
    x = pd.DataFrame({
        "event_id": [f"x{i}" for i in range(2 * n)],
        "ts": pd.Timestamp("2026-11-01 10:00") + pd.to_timedelta(range(2 * n), unit="min"),
        "experiment": "exp1", "user_id": [f"u{i}" for i in range(2 * n)],
        "item_id": [f"i{i % 4}" for i in range(2 * n)],
        "arm": ["control"] * n + ["treat"] * n,
        "reason_id": [f"c{i % 4}" for i in range(n)] + [f"t{i % 4}" for i in range(n)],
    })
    reasons = pd.DataFrame({
        "reason_id": [f"c{j}" for j in range(4)] + [f"t{j}" for j in range(4)],
        "experiment": "exp1", "arm": ["control"] * 4 + ["treat"] * 4, "item_id": [f"i{j}" for j in range(4)] * 2,
        "segment": None,
        "text": [f"舒适透气的第{j}款好物" for j in range(4)] + ["国家级品质，值得拥有", "轻薄便携，通勤好帮手",
                                                             "柔软亲肤，四季可用", "简约百搭，日常必备"],
    })
    items = pd.DataFrame({"item_id": [f"i{j}" for j in range(4)], "category": "服饰", "brand": "无名",
                          "title": [f"商品{j}" for j in range(4)], "price": 99.0, "discount": 0.0,
                          "attributes": '{"材质": "棉"}'})
    db = tmp_path / "texts.duckdb"
    log_writer(db, exposures=x, events=x.iloc[0:0][["event_id", "ts", "user_id", "item_id"]].assign(type="click"),
               reasons=reasons, items=items)
    con = connect(db)
    try:
        res = analyze(spec_from(text_guardrails=["ad_law_violation_rate == 0"]), con)
    finally:
        con.close()
    div = res.to_json()["diversity"]
    assert set(div) == {"control", "treat"}
    for key in ("texts", "distinct_1", "distinct_2", "self_bleu", "ad_law_violation_rate", "unfaithful_rate"):
        assert key in div["treat"], key
    assert div["control"]["texts"] == 4 and div["treat"]["ad_law_violation_rate"] > 0
    assert div["control"]["ad_law_violation_rate"] == 0
    assert res.to_json()["text_guardrails"] == [{"arm": "treat", "rule": "ad_law_violation_rate == 0",
                                            "value": div["treat"]["ad_law_violation_rate"], "passed": False}]
    assert res.decision.action == "stop" and "Text guardrail" in res.decision.reasons[0]
    json.dumps(res.to_json(), allow_nan=False)

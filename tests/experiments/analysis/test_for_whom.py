"""Regression adjustment, the explorer and the interaction check end to end (SQL → stats), against
references computed with pandas/statsmodels on the per-user table."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from abkit.warehouse import connect
from experiments.analysis.analyze import analyze
from experiments.analysis.stages import per_user_frame
from tests.experiments.conftest import random_logs, write_logs

COVARIATES = {"attributes": ["segment", "is_new"], "numeric_attributes": ["pre_sessions"]}


@pytest.fixture
def db(tmp_path):
    exposures, events = random_logs(1500, seed=11, effect=0.5)
    path = tmp_path / "w.duckdb"
    write_logs(path, exposures=exposures, events=events)
    rng = np.random.default_rng(2)
    ids = sorted(exposures["user_id"].unique())
    users = pd.DataFrame({"user_id": ids, "segment": rng.choice(["学生党", "宝妈", "上班族"], len(ids)),
                          "is_new": rng.choice(["true", "false"], len(ids), p=[0.2, 0.8]),
                          "pre_sessions": rng.poisson(8, len(ids)).astype(str)})
    users.loc[users.index[:5], "segment"] = None  # a missing attribute is the reference level
    con = connect(path)
    cur = con.cursor()
    cur.register("u_df", users)
    cur.execute("""INSERT INTO users (user_id, segment, extra, ingested_at)
                   SELECT user_id, segment, MAP(['is_new', 'pre_sessions'], [is_new, pre_sessions]), now()
                   FROM u_df""")
    cur.close()
    con.close()
    return path, users


def _analyze(path, spec):
    con = connect(path)
    try:
        return analyze(spec, con, text_metrics=False).to_json(), per_user_frame(spec, con)
    finally:
        con.close()


def _row(data, metric, arm="treat"):
    (row,) = [r for r in data["metrics"] if r["metric"] == metric and r["arm"] == arm and r["baseline"] == "control"]
    return row


def test_regression_rows_match_statsmodels_on_the_per_user_table(db, spec_from):
    path, users = db
    spec = spec_from(end="2026-11-04", covariates=COVARIATES)
    data, pu = _analyze(path, spec)
    row = _row(data, "revenue_per_user")
    assert row["adjustment"] == "regression"
    assert row["covariates"][:4] == ["pre_revenue", "pre_clicks", "pre_orders", "pre_converted"] or \
        set(row["covariates"]) >= {"pre_revenue", "pre_clicks", "is_new=true", "pre_sessions"}
    u = users.set_index("user_id")
    pu = pu.join(u, on="user_id")
    pre = ["pre_clicks", "pre_carts", "pre_orders", "pre_revenue", "pre_converted"]
    names = row["covariates"]
    cols = {}
    for n in names:
        if n in pre:
            cols[n] = pu[n].astype(float)
        elif n == "pre_sessions":
            cols[n] = pu["pre_sessions_"].astype(float) if "pre_sessions_" in pu else pu["pre_sessions"].astype(float)
        else:
            attr, level = n.split("=", 1)
            cols[n] = (pu[attr] == level).astype(float)
    x = pd.DataFrame(cols).to_numpy()
    y = pu["revenue"].to_numpy(float)
    theta = sm.OLS(y, sm.add_constant(x)).fit().params[1:]
    z = y - x @ theta
    tr = (pu["arm"] == "treat").to_numpy()
    assert row["abs_lift"] == pytest.approx(z[tr].mean() - z[~tr].mean(), rel=1e-8)
    se = np.sqrt(z[tr].var(ddof=1) / tr.sum() + z[~tr].var(ddof=1) / (~tr).sum())
    raw = np.sqrt(y[tr].var(ddof=1) / tr.sum() + y[~tr].var(ddof=1) / (~tr).sum())
    assert row["variance_reduction"] == pytest.approx(1 - se**2 / raw**2, rel=1e-8)
    assert 0 <= row["r2"] <= 1
    ctr = _row(data, "ctr")
    assert ctr["adjustment"] == "regression" and "pre_sessions" in ctr["covariates"]


def test_default_rows_say_cuped_and_one_covariate_regression_equals_it(db, spec_from):
    path, _ = db
    plain, _ = _analyze(path, spec_from(end="2026-11-04"))
    one, _ = _analyze(path, spec_from(end="2026-11-04", covariates={"pre_period": ["ctr"]},
                                      secondary_metrics=["cvr"]))
    a, b = _row(plain, "ctr"), _row(one, "ctr")
    assert a["adjustment"] == "cuped" and a["covariates"] == ["pre_clicks"]
    assert b["adjustment"] == "regression" and b["covariates"] == ["pre_clicks"]
    for k in ("abs_lift", "p_value", "rel_ci_low", "variance_reduction"):
        assert b[k] == pytest.approx(a[k], rel=1e-9), k
    assert a["r2"] == pytest.approx(b["r2"], rel=1e-9)


def test_explorer_slices_add_up_to_the_experiment(db, spec_from):
    path, users = db
    spec = spec_from(end="2026-11-04", heterogeneity={"dimensions": ["segment", "is_new"], "min_users": 20})
    data, pu = _analyze(path, spec)
    h = data["heterogeneity"]["arms"]["treat"]
    rows = h["slices"]
    seg = [r for r in rows if r["dimensions"] == ["segment"]]
    pu = pu.join(users.set_index("user_id"), on="user_id")
    counts = pu.assign(segment=pu["segment"].fillna("(missing)")).groupby(["segment", "arm"]).size()
    for r in seg:
        assert r["n_control"] == counts[(r["values"][0], "control")]
        assert r["n_treatment"] == counts[(r["values"][0], "treat")]
    assert {tuple(r["dimensions"]) for r in rows} == {("segment",), ("is_new",), ("segment", "is_new")}
    assert [r["rank"] for r in rows if r["rank"]] == sorted(r["rank"] for r in rows if r["rank"])
    pol = data["policy"]
    assert pol["dimension"] == "segment" and pol["best_single_arm"] in ("control", "treat")
    assert "follow-up experiment" in pol["note"]
    assert "Exploratory" in data["heterogeneity"]["note"]


def test_concurrent_experiment_interaction_in_health(db, spec_from):
    path, _ = db
    data, _ = _analyze(path, spec_from(end="2026-11-04"))
    (res,) = data["health"]["interactions"]
    assert res["other"] == "other" and res["users_in_both"] > 0
    assert res["chi2_p"] is None or 0 <= res["chi2_p"] <= 1
    assert isinstance(res["flagged"], bool) and res["message"]


def test_interaction_counts_only_what_was_known_as_of(db, spec_from):
    """Users in both experiments = this analysis's users ∩ single-arm users of the other experiment
    exposed in the window before as_of (a later exposure there must not count)."""
    path, _ = db
    spec = spec_from(end="2026-11-04")
    as_of = dt.datetime(2026, 11, 2, 12)
    con = connect(path)
    try:
        data = analyze(spec, con, as_of=as_of, text_metrics=False).to_json()
        ours = set(per_user_frame(spec, con, as_of=as_of)["user_id"])
        other = con.execute("""SELECT user_id FROM exposures
                               WHERE experiment = 'other' AND ts >= TIMESTAMP '2026-11-01' AND ts < $as_of
                                 AND ingested_at <= $as_of
                               GROUP BY user_id HAVING count(DISTINCT arm) = 1""", {"as_of": as_of}).df()
        later = con.execute("SELECT count(*) FROM exposures WHERE experiment = 'other' AND ts >= $as_of",
                            {"as_of": as_of}).fetchone()[0]
    finally:
        con.close()
    (res,) = data["health"]["interactions"]
    assert later > 0  # the fixture has exposures of the other experiment after as_of
    assert res["users_in_both"] == len(ours & set(other["user_id"]))


def test_explorer_says_when_no_user_has_the_attribute(db, spec_from):
    path, _ = db
    data, _ = _analyze(path, spec_from(end="2026-11-04", heterogeneity={"dimensions": ["segment", "tenure"]}))
    assert any("no user has a value for 'tenure'" in n for n in data["notes"])
    assert not any("no user has a value for 'segment'" in n for n in data["notes"])


def test_policy_cli_writes_the_file(db, spec_from, tmp_path):
    import json

    import yaml
    from typer.testing import CliRunner

    from abkit.cli import app

    path, _ = db
    spec = spec_from(end="2026-11-04", heterogeneity={"dimensions": ["segment"], "min_users": 20})
    data, _ = _analyze(path, spec)
    res_path = tmp_path / "result.json"
    res_path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    runner = CliRunner()
    out = runner.invoke(app, ["policy", str(res_path), "--out", str(tmp_path / "p.yaml")])
    assert out.exit_code == 0, out.output
    doc = yaml.safe_load((tmp_path / "p.yaml").read_text(encoding="utf-8"))
    assert set(doc["assignments"]) == {r["segment"] for r in data["policy"]["segments"]}
    assert doc["default_arm"] == data["policy"]["best_single_arm"] and doc["exploratory"] is True
    bad = runner.invoke(app, ["policy", str(res_path), "--out", str(tmp_path / "p.txt")])
    assert bad.exit_code == 2 and "use a .yaml" in bad.output
    res_path.write_text(json.dumps({"experiment": "x"}), encoding="utf-8")
    none = runner.invoke(app, ["policy", str(res_path), "--out", str(tmp_path / "q.json")])
    assert none.exit_code == 2 and "heterogeneity:" in none.output and not (tmp_path / "q.json").exists()

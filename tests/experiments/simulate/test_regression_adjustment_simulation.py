"""Regression adjustment (CUPED++) on the traffic simulator: variance reduction, A/A FPR and coverage.

Fixed design, stated before any run (issue 14):
- one A/A world of the traffic simulator (experiments/simulate: title texts for every arm), 60,000
  users, seed 3, 1,000 items, the spec below; its per-user outcomes are drawn once
  (``user_outcomes``) and re-randomized 50/50 in every run (1,000 runs per check, seeded);
- the simulator's user-attribute effects, as they are (none added): the persona (``segment``) sets
  category affinities and hence CTR; new users (``is_new``, 20%) have no pre-period history;
  ``pre_sessions`` (sessions in the 28 days before) follows the user's activity; the click
  propensity and activity themselves are latent (never covariates);
- metric: CTR (ratio, delta method). CUPED: pre_clicks. Regression: pre_clicks, the other metrics'
  pre-period values (pre_orders, pre_revenue, pre_converted), persona indicators (11), is_new, and
  pre_sessions — not platform (an exposure-time field);
- coverage: treatment users' clicks thinned by Binomial(clicks, 0.95), a true relative lift of −5%.
Acceptance: mean variance reduction of the regression ≥ 2 × CUPED's on the same runs; A/A
false-positive rate in [3.5, 6.5]% and 95% CI coverage in [93, 97]% for each adjustment.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from abkit.spec import parse_spec
from abkit.stats import SufficientStats, compare
from abkit.stats.regression import CrossProducts, compare_adjusted, fit
from experiments.simulate import aa
from experiments.simulate.population import make_users
from experiments.simulate.traffic import iter_chunks, user_outcomes

pytestmark = pytest.mark.slow

SPEC = {"key": "reg_sim", "start": "2026-11-01", "end": "2026-11-08", "timezone": "Asia/Shanghai",
        "primary_metric": "ctr", "arms": [{"name": "control", "weight": 0.5}, {"name": "treatment", "weight": 0.5}]}
N_USERS, SEED, RUNS, BATCH, THIN = 60_000, 3, 1000, 100, 0.95


@pytest.fixture(scope="module")
def population():
    """Per analysis user: clicks y, exposures d, the covariate matrix X (column 0: pre_clicks)."""
    world = aa.aa_world(parse_spec(SPEC), N_USERS, seed=SEED, n_items=1000)
    df = pd.concat([user_outcomes(world, ch) for ch in iter_chunks(world)], ignore_index=True)
    users = make_users(N_USERS, SEED).iloc[df["user"].to_numpy()].reset_index(drop=True)
    personas = sorted(users["segment"].unique())
    dummies = np.stack([(users["segment"] == p).to_numpy(float) for p in personas[1:]], axis=1)
    x = np.c_[df[["pre_clicks", "pre_orders", "pre_revenue", "pre_converted"]].to_numpy(float), dummies,
              users["is_new"].to_numpy(float), users["pre_sessions"].to_numpy(float)]
    names = ("pre_clicks", "pre_orders", "pre_revenue", "pre_converted", *[f"segment={p}" for p in personas[1:]],
             "is_new", "pre_sessions")
    return df["clicks"].to_numpy(float), df["exposures"].to_numpy(float), x, names


def _arm(n, sy, sy2, sd, sd2, syd, sx, sxx, sxy, sxd, names) -> CrossProducts:
    return CrossProducts(int(n), float(sy), float(sy2), sx, sxx, sxy, names, float(sd), float(sd2), float(syd), sxd)


def _runs(population, seed: int, thin: float | None):
    """Per run: (raw, CUPED, regression) results; sums by matrix products over the assignment."""
    y, d, x, names = population
    rng = np.random.default_rng(seed)
    n, p = x.shape
    xx = (x[:, :, None] * x[:, None, :]).reshape(n, p * p)
    out = []
    for _ in range(RUNS // BATCH):
        a = rng.random((BATCH, n)) < 0.5  # treatment indicator per run
        yt = rng.binomial(y.astype(np.int64), thin, (BATCH, n)).astype(float) if thin else np.broadcast_to(y, (BATCH, n))
        c = ~a
        cs = {"n": c.sum(1), "y": c @ y, "y2": c @ (y * y), "d": c @ d, "d2": c @ (d * d), "yd": c @ (y * d),
              "x": c @ x, "xx": c @ xx, "xy": c @ (x * y[:, None]), "xd": c @ (x * d[:, None])}
        ay = a * yt
        ts = {"n": a.sum(1), "y": ay.sum(1), "y2": (ay * yt).sum(1), "d": a @ d, "d2": a @ (d * d),
              "yd": ay @ d, "x": a @ x, "xx": a @ xx, "xy": ay @ x, "xd": a @ (x * d[:, None])}
        for r in range(BATCH):
            arms = [_arm(s["n"][r], s["y"][r], s["y2"][r], s["d"][r], s["d2"][r], s["yd"][r], s["x"][r],
                         s["xx"][r].reshape(p, p), s["xy"][r], s["xd"][r], names) for s in (cs, ts)]
            one = [SufficientStats(a_.n, a_.sum_y, a_.sum_y2, a_.sum_d, a_.sum_d2, a_.sum_yd, a_.sum_x[0],
                                   a_.sum_xx[0, 0], a_.sum_xy[0], a_.sum_xd[0]) for a_ in arms]
            cuped = compare(*one, min_events=0)
            cuped.extra["r2"] = fit([a_.subset([0]) for a_ in arms]).r2  # CUPED's own R² (one covariate)
            out.append((compare(*[a_.base() for a_ in arms], cuped=False, min_events=0),
                        cuped, compare_adjusted(*arms, min_events=0)))
    return out


def _rates(results, truth: float):
    rows = {}
    for i, name in enumerate(("unadjusted", "cuped", "regression")):
        res = [r[i] for r in results]
        rows[name] = {
            "fpr_or_miss": np.mean([not (x.rel_ci_low <= truth <= x.rel_ci_high) for x in res]),
            "variance_reduction": np.mean([x.variance_reduction for x in res]),
            "r2": np.mean([x.extra.get("r2") or 0.0 for x in res]),
        }
    return rows


def test_regression_doubles_cuped_and_keeps_fpr_and_coverage(population):
    aa_rows = _rates(_runs(population, 101, None), 0.0)
    cov_rows = _rates(_runs(population, 102, THIN), THIN - 1.0)
    print("\nCTR, 60k-user world, 1,000 re-randomized runs each")
    print(f"{'':12s} {'VR mean':>8s} {'R2':>6s} {'A/A FPR':>8s} {'coverage':>9s}")
    for name in aa_rows:
        print(f"{name:12s} {aa_rows[name]['variance_reduction']:8.4f} {aa_rows[name]['r2']:6.3f} "
              f"{aa_rows[name]['fpr_or_miss']:8.3f} {1 - cov_rows[name]['fpr_or_miss']:9.3f}")
    assert aa_rows["regression"]["variance_reduction"] >= 2 * aa_rows["cuped"]["variance_reduction"] > 0
    for name in aa_rows:
        assert 0.035 <= aa_rows[name]["fpr_or_miss"] <= 0.065, name
        assert 0.93 <= 1 - cov_rows[name]["fpr_or_miss"] <= 0.97, name

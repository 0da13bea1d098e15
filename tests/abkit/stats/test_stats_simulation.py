"""Simulation checks with a realistic data-generating process (conftest.simulate_users):
A/A false-positive rates, the naive exposure-level test, and CI coverage of a known effect."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from abkit.stats import compare

RUNS = 2000
METRICS = ("ctr", "conversion_rate", "revenue_per_user", "clicks_per_user")


def _run(dgp, sums_c, sums_t, metrics=METRICS) -> dict[tuple[str, bool], np.ndarray]:
    """(metric, cuped) -> array of (p, rel_lo, rel_hi, abs_lo, abs_hi) per experiment."""
    out: dict[tuple[str, bool], list] = {}
    for i in range(len(sums_c["n"])):
        mc, mt = dgp["metric_stats"](sums_c, i), dgp["metric_stats"](sums_t, i)
        for m in metrics:
            for cuped in (True, False):
                r = compare(mc[m], mt[m], cuped=cuped)
                out.setdefault((m, cuped), []).append(
                    (r.p_value, r.rel_ci_low, r.rel_ci_high, r.abs_ci_low, r.abs_ci_high))
    return {k: np.array(v, dtype=float) for k, v in out.items()}


def _naive_exposure_p(sc, st) -> np.ndarray:
    """Pooled two-proportion z-test treating every exposure as an independent trial."""
    pc, pt = sc["c"] / sc["e"], st["c"] / st["e"]
    pp = (sc["c"] + st["c"]) / (sc["e"] + st["e"])
    z = (pt - pc) / np.sqrt(pp * (1 - pp) * (1 / sc["e"] + 1 / st["e"]))
    return 2 * stats.norm.sf(np.abs(z))


@pytest.fixture(scope="module")
def aa_500(dgp):
    sc, st = dgp["simulate_sums"](np.random.default_rng(20240501), RUNS, 500)
    return sc, st, _run(dgp, sc, st)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("cuped", [True, False])
def test_aa_false_positive_rate_500_users(aa_500, metric, cuped):
    fpr = np.mean(aa_500[2][(metric, cuped)][:, 0] < 0.05)
    assert 0.035 <= fpr <= 0.065, f"{metric} cuped={cuped}: FPR {fpr:.4f}"


def test_naive_exposure_level_test_is_anti_conservative(aa_500):
    from statsmodels.stats.proportion import proportions_ztest

    sc, st, res = aa_500
    p = _naive_exposure_p(sc, st)
    ref = proportions_ztest([st["c"][0], sc["c"][0]], [st["e"][0], sc["e"][0]])[1]
    assert p[0] == pytest.approx(ref, rel=1e-9)  # the vectorized z-test is statsmodels'
    naive_fpr = np.mean(p < 0.05)
    delta_fpr = np.mean(res[("ctr", False)][:, 0] < 0.05)
    assert naive_fpr > 0.12 and naive_fpr > 2 * delta_fpr, (naive_fpr, delta_fpr)


@pytest.fixture(scope="module")
def effect_1000(dgp):
    sc, st = dgp["simulate_sums"](np.random.default_rng(7), RUNS, 1000, click_lift=0.05, revenue_lift=0.05)
    return _run(dgp, sc, st, ("ctr", "clicks_per_user", "conversion_rate"))


@pytest.mark.parametrize("metric", ["ctr", "clicks_per_user"])
@pytest.mark.parametrize("cuped", [True, False])
def test_relative_ci_coverage_1000_users(effect_1000, metric, cuped):
    """Click rates × 1.05 in treatment: the true relative lift of CTR and clicks/user is 5%."""
    a = effect_1000[(metric, cuped)]
    cover = np.mean((a[:, 1] <= 0.05) & (0.05 <= a[:, 2]))
    assert 0.93 <= cover <= 0.97, f"{metric} cuped={cuped}: coverage {cover:.4f}"


def test_absolute_ci_coverage_of_zero_effect(effect_1000):
    """Conversion is driven by the latent propensity, untouched by the treatment: true effect 0."""
    for cuped in (True, False):
        a = effect_1000[("conversion_rate", cuped)]
        cover = np.mean((a[:, 3] <= 0) & (0 <= a[:, 4]))
        assert 0.93 <= cover <= 0.97, cover


@pytest.mark.slow
def test_relative_ci_coverage_revenue_2000_users(dgp):
    """Revenue (zero-inflated log-normal) × 1.05: the skew needs more users for the delta-method
    relative interval, whose misses are lopsided (at 1,000 users per arm coverage was 93–94.5%
    over seeds, missing mostly on the high side; the log-ratio option balances the two tails)."""
    sc, st = dgp["simulate_sums"](np.random.default_rng(11), RUNS, 2000, click_lift=0.05, revenue_lift=0.05)
    res = _run(dgp, sc, st, ("revenue_per_user", "ctr"))
    for key, a in res.items():
        cover = np.mean((a[:, 1] <= 0.05) & (0.05 <= a[:, 2]))
        assert 0.93 <= cover <= 0.97, f"{key}: coverage {cover:.4f}"


@pytest.mark.slow
def test_aa_false_positive_rate_20k_users(dgp):
    sc, st = dgp["simulate_sums"](np.random.default_rng(99), RUNS, 20_000)
    res = _run(dgp, sc, st)
    for key, a in res.items():
        fpr = np.mean(a[:, 0] < 0.05)
        assert 0.035 <= fpr <= 0.065, f"{key}: FPR {fpr:.4f}"
    naive = np.mean(_naive_exposure_p(sc, st) < 0.05)
    assert naive > 0.12, naive

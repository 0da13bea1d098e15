"""The one sample size (abkit/planning.py) against closed forms (scipy 1.17 normal quantiles) and simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from abkit.planning import (
    Baseline,
    plan_for_spec,
    plan_sample,
    planned_users_per_arm,
    sequential_critical_value,
    tuning_n,
)
from abkit.spec import parse_spec
from abkit.stats import SufficientStats, adjust_pvalues, compare, sequential_p_value

Z = stats.norm.ppf


def evan_miller(p1, mde, alpha, power):
    p2 = p1 * (1 + mde)
    s0, s1 = math.sqrt(2 * p1 * (1 - p1)), math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return (Z(1 - alpha / 2) * s0 + Z(power) * s1) ** 2 / (p2 - p1) ** 2


def test_single_test_is_evan_millers_1030():
    p = plan_sample(Baseline("proportion", 0.20), mde=0.25, arms=2, cuped=False)
    assert round(p.per_arm_single_test) == 1030 and p.per_arm == 1031 and p.total == 2062
    assert p.per_arm_single_test == pytest.approx(evan_miller(0.20, 0.25, 0.05, 0.8), rel=1e-12)
    assert p.multiplicity_factor == 1 and p.sequential_inflation == 1 and p.alpha_per_test == 0.05
    assert "1,031 users per arm" in p.text


def test_two_treatment_arms_split_alpha():
    p = plan_sample(Baseline("proportion", 0.20), mde=0.25, arms=3, correction="holm", cuped=False)
    assert p.alpha_per_test == 0.025 and p.tests == 2
    assert p.per_arm == math.ceil(evan_miller(0.20, 0.25, 0.025, 0.8))
    assert p.total == 3 * p.per_arm and p.multiplicity_factor > 1.2
    assert p.power_at(p.per_arm) == pytest.approx(0.8, abs=2e-3)  # the power of each comparison at alpha/2
    none = plan_sample(Baseline("proportion", 0.20), mde=0.25, arms=3, correction="none", cuped=False)
    assert none.alpha_per_test == 0.05 and none.per_arm == 1031
    # the single-alpha plan gives each Holm/Bonferroni comparison less than the target power
    assert p.power_at(none.per_arm) < 0.75


def _correlated(rng, n, rho, mean=10.0, sd=4.0):
    x = rng.normal(0, 1, n)
    y = mean + sd * (rho * x + math.sqrt(1 - rho**2) * rng.normal(0, 1, n))
    return SufficientStats(n, y.sum(), (y * y).sum(), sum_x=x.sum(), sum_x2=(x * x).sum(), sum_xy=(x * y).sum()), x, y


def test_cuped_scales_by_one_minus_rho_squared():
    s, x, y = _correlated(np.random.default_rng(5), 50_000, 0.6)
    b = Baseline.from_stats(s, "mean")
    assert b.rho2 == pytest.approx(np.corrcoef(x, y)[0, 1] ** 2, rel=1e-9)
    assert b.variance == pytest.approx(y.var(ddof=1), rel=1e-9)
    with_cuped = plan_sample(b, mde=0.02, cuped=True)
    without = plan_sample(b, mde=0.02, cuped=False)
    closed = (Z(0.975) + Z(0.8)) ** 2 * 2 * y.var(ddof=1) / (0.02 * y.mean()) ** 2
    assert without.per_arm == math.ceil(closed)
    assert with_cuped.per_arm == math.ceil(closed * (1 - b.rho2))
    assert with_cuped.cuped_variance_reduction == pytest.approx(0.36, abs=0.01)


def test_sequential_critical_value_and_inflation_closed_form():
    # GrowthBook's mixture boundary at N = N*: N·rho² = c0 = -2 log a + log(-2 log a + 1)
    la = -2 * math.log(0.05)
    c0 = la + math.log(la + 1)
    crit = math.sqrt(2 * (c0 + 1) / c0 * math.log(math.sqrt(c0 + 1) / 0.05))
    assert sequential_critical_value(20_000, 0.05) == pytest.approx(crit, rel=1e-9)
    assert crit == pytest.approx(3.035, abs=1e-3)
    b = Baseline("mean", 10.0, 16.0)
    p = plan_sample(b, mde=0.02, sequential=True)
    assert p.critical_value == pytest.approx(crit, rel=1e-6)
    assert p.sequential_inflation == pytest.approx(((crit + Z(0.8)) / (Z(0.975) + Z(0.8))) ** 2, rel=1e-6)
    assert p.tuning_n == 2 * p.per_arm
    # an explicit N* far from the plan: the plan is a fixed point of its own critical value
    q = plan_sample(b, mde=0.02, sequential=True, tuning_n=5000)
    c = sequential_critical_value(2 * q.per_arm, 0.05, 5000)
    assert q.critical_value == pytest.approx(c, rel=1e-4) and q.per_arm > p.per_arm and q.tuning_n == 5000


def test_plan_for_spec_and_the_one_planned_number():
    spec = parse_spec({"key": "x", "start": "2026-11-01", "end": "2026-11-15", "primary_metric": "conversion_rate",
                       "arms": [{"name": a, "weight": 1} for a in ("control", "generic", "personal")],
                       "mde": 0.1, "coverage": 0.5, "sequential": {"enabled": True}})
    history = SufficientStats(100_000, 4000, 4000)
    p = plan_for_spec(spec, history)
    assert p is not None and p.kind == "proportion" and p.baseline == 0.04 and p.alpha_per_test == 0.025
    assert p.total == 3 * p.per_arm and p.eligible == 2 * p.total and p.sequential_inflation > 1.5
    assert planned_users_per_arm(spec, p) == p.per_arm and tuning_n(spec, p.per_arm) == 2 * p.per_arm
    fixed = spec.model_copy(update={"planned_users_per_arm": 1234})
    assert planned_users_per_arm(fixed, p) == 1234
    assert plan_for_spec(spec.model_copy(update={"mde": None}), history) is None
    assert tuning_n(spec, None) is None


@pytest.mark.slow
def test_simulated_power_matches_the_target():
    """Seeded and vectorized: (a) a proportion at the plan, compare() per run: power ≈ 0.80;
    (b) three arms under Holm at the Bonferroni plan: each arm's power ≥ 0.80 (conservative);
    (c) sequential, always-valid p at the planned N: power ≈ 0.80."""
    rng = np.random.default_rng(2024)
    runs = 4000
    tol = 3 * math.sqrt(0.8 * 0.2 / runs)
    p = plan_sample(Baseline("proportion", 0.05), mde=0.10, cuped=False)
    kc, kt = rng.binomial(p.per_arm, 0.05, runs), rng.binomial(p.per_arm, 0.055, runs)
    hits = [compare(SufficientStats(p.per_arm, int(a), int(a)), SufficientStats(p.per_arm, int(b), int(b))).p_value
            < 0.05 for a, b in zip(kc, kt, strict=True)]
    assert abs(np.mean(hits) - 0.8) < tol, np.mean(hits)

    b = Baseline("mean", 10.0, 16.0)
    p3 = plan_sample(b, mde=0.02, arms=3)
    se = math.sqrt(16.0 / p3.per_arm)
    means = rng.normal(10.0, se, (runs, 3)) + np.array([0.0, 0.2, 0.2])
    z = (means[:, 1:] - means[:, :1]) / (se * math.sqrt(2))
    pv = 2 * stats.norm.sf(np.abs(z))
    adj = np.array([adjust_pvalues(list(r), "holm") for r in pv], dtype=float)
    power = (adj < 0.05).mean(axis=0)
    assert (power >= 0.8 - tol).all() and (power <= 0.87).all(), power

    ps = plan_sample(b, mde=0.02, sequential=True)
    se = math.sqrt(2 * 16.0 / ps.per_arm)
    est = rng.normal(0.2, se, runs)
    seq = np.array([sequential_p_value(float(e), se, 2 * ps.per_arm, tuning_n=ps.tuning_n) for e in est])
    assert abs((seq < 0.05).mean() - 0.8) < tol, (seq < 0.05).mean()

"""Non-inferiority (guardrails) and the Bayesian extras, against closed forms and integration."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from abkit.stats import SufficientStats, TestResult, chance_to_beat, compare, noninferiority, shown_worse


def _result(rel, rel_se, df=500.0) -> TestResult:
    return TestResult(1.0, 1.0 + rel, rel, None, None, rel, None, None, 0.5, se=rel_se, df=df, rel_se=rel_se)


def test_bound_and_p_value_are_dual():
    r = compare(SufficientStats(4000, 410.0, 410.0), SufficientStats(4000, 400.0, 400.0))
    q = stats.t.ppf(0.95, r.df)
    for margin in [float(m) for m in np.linspace(0.0, 0.3, 31)]:
        ni = noninferiority(r, margin)
        assert ni.bound == pytest.approx(r.rel_lift - q * r.rel_se)
        assert ni.p_value == pytest.approx(stats.t.sf((r.rel_lift + margin) / r.rel_se, r.df))
        assert ni.passed is (ni.p_value < 0.05) is (ni.bound > -margin)
        assert (ni.inconclusive_reason is None) is ni.passed
    # at the margin where the bound touches -margin, p is exactly alpha
    m = -(r.rel_lift - q * r.rel_se)
    assert noninferiority(r, m).p_value == pytest.approx(0.05, rel=1e-9)


def test_lower_is_better_flips_signs():
    up = _result(0.03, 0.01)
    down = _result(-0.03, 0.01)
    a = noninferiority(up, 0.05, higher_is_better=False)
    b = noninferiority(down, 0.05, higher_is_better=True)
    assert a.p_value == pytest.approx(b.p_value) and a.bound == pytest.approx(-b.bound)
    q = float(stats.t.ppf(0.95, 500.0))
    assert a.bound == pytest.approx(0.03 + q * 0.01)  # the upper bound matters when lower is better
    assert a.passed is b.passed is True  # 0.0465 < 0.05
    assert noninferiority(up, 0.04, higher_is_better=False).passed is False


def test_shown_worse_cases():
    q = float(stats.t.ppf(0.95, 500.0))
    assert -0.10 + q * 0.02 < -0.02
    assert shown_worse(_result(-0.10, 0.02), 0.02) is True  # upper bound -0.067 below -0.02
    assert shown_worse(_result(-0.05, 0.02), 0.02) is (-0.05 + q * 0.02 < -0.02)
    assert shown_worse(_result(-0.03, 0.02), 0.02) is False  # inconclusive, not shown worse
    assert noninferiority(_result(-0.03, 0.02), 0.02).passed is False
    assert shown_worse(_result(0.10, 0.02), 0.02, higher_is_better=False) is True
    empty = TestResult(None, None, None, None, None, None, None, None, None, warning="No users.")
    assert shown_worse(empty, 0.02) is False
    ni = noninferiority(empty, 0.02)
    assert ni.passed is False and "No users." in ni.inconclusive_reason


def test_noninferiority_size_at_the_boundary():
    """With the true lift exactly -margin, 'non-inferior' is declared about alpha of the time."""
    rng = np.random.default_rng(8)
    n, runs, margin = 3000, 2000, 0.05
    c = rng.normal(10.0, 4.0, (runs, n))
    t = rng.normal(10.0 * (1 - margin), 4.0, (runs, n))
    passed = 0
    for i in range(runs):
        ss = [SufficientStats(n, float(a.sum()), float((a * a).sum())) for a in (c[i], t[i])]
        passed += noninferiority(compare(*ss), margin).passed
    assert 0.035 <= passed / runs <= 0.065


def test_log_scale_guardrail():
    r = compare(SufficientStats(4000, 4100.0, 9000.0), SufficientStats(4000, 4000.0, 8800.0), relative_ci="log")
    ni = noninferiority(r, 0.05)
    lse = r.extra["log_rel_se"]
    q = stats.t.ppf(0.95, r.df)
    assert ni.bound == pytest.approx(math.expm1(math.log1p(r.extra["rel_lift_log"]) - q * lse))


@pytest.mark.parametrize("mu, sigma", [(0.02, 0.01), (-0.01, 0.03), (0.0, 0.05)])
def test_chance_to_beat_and_expected_loss(mu, sigma):
    ctb, loss = chance_to_beat(_result(mu, sigma))
    post = stats.norm(mu, sigma)
    assert ctb == pytest.approx(post.sf(0.0), rel=1e-12)
    ref, _ = integrate.quad(lambda x: -x * post.pdf(x), -np.inf, 0.0)
    assert loss == pytest.approx(ref, rel=1e-7)
    ctb_down, loss_down = chance_to_beat(_result(mu, sigma), higher_is_better=False)
    assert ctb_down == pytest.approx(1 - ctb)
    ref_down, _ = integrate.quad(lambda x: x * post.pdf(x), 0.0, np.inf)
    assert loss_down == pytest.approx(ref_down, rel=1e-7)
    empty = TestResult(None, None, None, None, None, None, None, None, None)
    assert chance_to_beat(empty) == (None, None)

"""Error rates of the calls a reader acts on, by simulation (seeded; data drawn vectorized as
sufficient statistics, then the engine's own functions per run). Each asserts that the upper 99%
Clopper–Pearson bound of the error rate (scipy 1.17 beta quantile) is at most alpha + 0.01, and
where the old behaviour was wrong, that the naive rule fails the same data (the test bites).

Printed rates (pytest -s) are the figures quoted in docs/statistics.md.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from scipy import stats

from abkit.planning import Baseline, plan_sample
from abkit.stats import (
    SequentialDesign,
    SufficientStats,
    TestResult,
    compare,
    noninferiority,
    sequential,
    shown_worse,
    significance,
)

pytestmark = pytest.mark.slow
ALPHA = 0.05
RUNS = 2000


def upper_cp(errors: int, runs: int, level: float = 0.99) -> float:
    """One-sided upper Clopper–Pearson bound of a binomial rate."""
    return 1.0 if errors >= runs else float(stats.beta.ppf(level, errors + 1, runs - errors))


def _check(name: str, errors: int, runs: int = RUNS) -> float:
    rate, up = errors / runs, upper_cp(errors, runs)
    print(f"{name}: {errors}/{runs} = {rate:.4f} (upper 99% CP {up:.4f})")
    assert up <= ALPHA + 0.01, (name, rate, up)
    return rate


@pytest.mark.parametrize("rate, n", [(0.002, 300), (0.01, 150), (0.005, 2000), (0.03, 400)])
def test_rare_event_aa_is_never_shown_worse(rate, n):
    """A/A on a rare per-user proportion (e.g. 1 vs 0 orders in 150 users): a guardrail is never
    'shown worse' and the primary never 'significantly worse' more often than alpha."""
    rng = np.random.default_rng(int(rate * 1e4) + n)
    k = rng.binomial(n, rate, (RUNS, 2))
    worse = sig_worse = 0
    for kc, kt in k:
        r = compare(SufficientStats(n, int(kc), int(kc)), SufficientStats(n, int(kt), int(kt)))
        worse += shown_worse(r, 0.02, ALPHA)
        sig_worse += significance(r.p_value, r.abs_lift, ALPHA, small_sample=r.small_sample) == "worse"
    _check(f"A/A proportion {rate} x {n}: shown worse", worse)
    _check(f"A/A proportion {rate} x {n}: significantly worse", sig_worse)


def test_rare_event_aa_ratio_and_mean_are_never_shown_worse():
    """refund_rate (refunded orders / orders) and orders per user with a handful of events per arm.
    Orders per user (~20 per arm) is above the rule, so its rate is near the nominal alpha: 10,000
    runs keep the Monte Carlo error of that check small."""
    rng = np.random.default_rng(11)
    n, runs = 40, 5 * RUNS
    orders = rng.poisson(0.5, (runs, 2, n))
    refunds = rng.binomial(orders, 0.05)
    y, d = refunds.sum(axis=2), orders.sum(axis=2)
    y2, d2, yd = (refunds**2).sum(axis=2), (orders**2).sum(axis=2), (refunds * orders).sum(axis=2)
    ratio_worse = mean_worse = 0
    for i in range(runs):
        arms = [SufficientStats(n, float(y[i, a]), float(y2[i, a]), float(d[i, a]), float(d2[i, a]), float(yd[i, a]))
                for a in (0, 1)]
        if arms[0].sum_d and arms[1].sum_d:
            ratio_worse += shown_worse(compare(*arms), 0.05, ALPHA, higher_is_better=False)
        means = [SufficientStats(n, float(d[i, a]), float(d2[i, a])) for a in (0, 1)]
        mean_worse += shown_worse(compare(*means, kind="mean"), 0.02, ALPHA)
    _check("A/A refund_rate, 40 users: shown worse", ratio_worse, runs)
    _check("A/A orders_per_user, 40 users: shown worse", mean_worse, runs)


def _any_look(rng: np.random.Generator, looks: int, step: int, mean: np.ndarray, sd: float,
              calls: Callable[[TestResult, int], tuple[bool, bool]]) -> tuple[int, int]:
    """Runs in which each of two calls fires at some look: (sequential, fixed-horizon).

    Normal per-user data drawn as cumulative sufficient statistics per look (block sums, and Σy²
    as the within-block χ² plus the block's sum²/step); `calls(result, n_pair)` judges one look."""
    block = rng.normal(step * mean, np.sqrt(step) * sd, (RUNS, looks, 2))
    within = sd * sd * rng.chisquare(step - 1, (RUNS, looks, 2))
    n, s, s2 = np.arange(1, looks + 1) * step, np.cumsum(block, axis=1), np.cumsum(within + block**2 / step, axis=1)
    hits = np.zeros((RUNS, 2), dtype=bool)
    for i in range(RUNS):
        for j in range(looks):
            r = compare(*[SufficientStats(int(n[j]), float(s[i, j, a]), float(s2[i, j, a])) for a in (0, 1)])
            hits[i] |= calls(r, 2 * int(n[j]))
    return int(hits[:, 0].sum()), int(hits[:, 1].sum())


def test_sequential_aa_significant_at_any_of_20_looks():
    """A/A with 20 looks: 'significant' by the always-valid p at some look in <= alpha of runs,
    with N* from the plan; the fixed-horizon p peeked at the same looks fails (~25%)."""
    looks, step = 20, 500

    def calls(r: TestResult, n_pair: int) -> tuple[bool, bool]:
        p = sequential(r, n_pair, tuning_n=2 * looks * step, alpha=ALPHA).seq_p_value
        return (significance(p, r.abs_lift, ALPHA) is not None,
                significance(r.p_value, r.abs_lift, ALPHA) is not None)

    seq_hit, fixed_hit = _any_look(np.random.default_rng(20), looks, step, np.array([10.0, 10.0]), 8.0, calls)
    _check("sequential A/A, 20 looks: significant at any look", seq_hit)
    print(f"fixed-horizon p peeked at 20 looks: {fixed_hit / RUNS:.4f}")
    assert fixed_hit / RUNS > 0.15


@pytest.mark.parametrize("higher_is_better", [True, False])
def test_sequential_guardrail_at_the_margin_non_inferior_at_any_look(higher_is_better):
    """True lift exactly at the margin (-5%, or +5% for a lower-is-better metric): 'non-inferior'
    at some of 20 looks in <= alpha of runs with the always-valid bound (N* = the planned pair
    total); the fixed-horizon bound peeked at the same looks is declared non-inferior far more often."""
    margin, looks, step = 0.05, 20, 400
    lift = -margin if higher_is_better else margin

    def calls(r: TestResult, n_pair: int) -> tuple[bool, bool]:
        design = SequentialDesign(n_pair, 2 * looks * step)
        return (noninferiority(r, margin, alpha=ALPHA, higher_is_better=higher_is_better, sequential=design).passed,
                noninferiority(r, margin, alpha=ALPHA, higher_is_better=higher_is_better).passed)

    rng = np.random.default_rng(5 if higher_is_better else 6)
    seq_pass, fixed_pass = _any_look(rng, looks, step, np.array([10.0, 10.0 * (1 + lift)]), 6.0, calls)
    _check(f"sequential guardrail at the margin (higher_is_better={higher_is_better}): non-inferior at any look",
           seq_pass)
    print(f"fixed-horizon bound peeked at 20 looks: {fixed_pass / RUNS:.4f}")
    assert fixed_pass / RUNS > 0.12


def test_planned_tuning_n_is_narrower_than_the_fixed_5000_at_scale():
    """At 400k users per arm, N* from the plan gives a narrower always-valid interval than N* = 5,000."""
    from abkit.stats import confidence_sequence

    plan = plan_sample(Baseline("mean", 10.0, 64.0), mde=0.005, sequential=True)
    n = 2 * plan.per_arm
    planned = np.diff(confidence_sequence(0.0, 1.0, n, tuning_n=plan.tuning_n))[0]
    legacy = np.diff(confidence_sequence(0.0, 1.0, n, tuning_n=5000))[0]
    print(f"pair N {n:,}: width ratio legacy/planned = {legacy / planned:.3f}")
    assert legacy / planned > 1.2

"""Seeded simulations of the explorer, the policy and the interaction detector (slow suite).

Fixed designs, stated here before any run (issue 14's acceptance):

Explorer / policy — a conversion metric (0/1 per user), so each (arm, cell) is exactly a binomial
count and a run's sufficient statistics are drawn without rows:
- users per arm: 2,000,000, split over cells by a multinomial with the shares below;
- persona shares: the simulator's 12 (experiments/simulate/population.py SEGMENT_SHARE); tenure
  (independent of persona): new 0.2, under_1y 0.3, over_1y 0.5;
- control conversion 0.10 × (0.8 + 0.4·i/11) for the i-th persona (baseline differs by persona);
- arms: control, A (+4% relative everywhere), B (+3% relative everywhere); in the heterogeneous
  design persona 宝妈 (8% of users) responds 3× more to B: +9%;
- slices: 12 personas, 3 tenures, 36 persona × tenure; min 200 users per arm; BH at 0.05 across
  both arms' slices (102); 1,000 runs per design.
Interaction — two experiments E1 (c, t) and E2 (x, y) with 1,000,000 users in both, arms
assigned independently 50/50; conversion 0.10; E1's lift +3% in both E2 arms (null) or +6% under
x and 0% under y (planted); 10,000 runs each (a calibrated 1% test needs that many for "≤ 1%" to
be checkable: at 1,000 runs the binomial sd is 0.31%).

History, so the figures can be judged: the first FDR procedure (flat Benjamini–Hochberg over all
102 slices) called some slice in 7.2% of no-heterogeneity runs (seed 20261201); a Cochran's-Q-gated
hierarchical procedure held the null (2.8%) but found the responder first in only 81.8% (seeds
20261211/12). Three family gates (Q, Simes, 2·min of both) were then compared on 300 runs (seeds
777/778): null 2.0/4.0/1.7%, power 80/93/89%; Simes (Benjamini–Bogomolov's own choice) was kept:
5.3% on seed 20261221, above the bar. Two causes, each found by reasoning and checked on
exploratory seeds (901–903), not on the seeds below: (1) Simes' test is not guaranteed for the
negatively correlated slice-versus-rest tests of a partition, so the gate is now Šidák's (valid
under any correlation) with Bonferroni across families — P(any call | no heterogeneity) ≤ alpha by
the union bound (it still gave 5.5% on seed 20261231); (2) the slice-versus-rest z of a ratio of
means is skewed: for the smallest persona × tenure cell it rejected 1.4× too often near p = 1e-4,
where the gates decide (binomial simulation in test_stats_heterogeneity.py); it is now a z of the
log ratios. The policy also changed once, from its logic, not its figures: the segments without a
call take the arm that is best over them, not the best single arm (which a carved-out responder
can make the wrong arm for everyone else). Exploratory seeds 901/902 (300 runs) after both
changes: null 4.3%, found first 94.7%, true gain positive 93.7%. The seeds below are fresh and
the design above was not changed.
"""

from __future__ import annotations

import numpy as np
import pytest

from abkit.stats import SufficientStats
from abkit.stats.heterogeneity import SliceStats, explore_arms
from abkit.stats.interaction import interaction
from abkit.stats.policy import recommend

pytestmark = pytest.mark.slow

PERSONAS = {"价格敏感": 0.16, "追求时尚": 0.10, "注重品质": 0.09, "宝妈": 0.08, "学生党": 0.10, "上班族": 0.13,
            "健身爱好者": 0.05, "银发族": 0.06, "户外爱好者": 0.04, "颜值党": 0.07, "科技发烧友": 0.06, "养生派": 0.06}
TENURE = {"new": 0.2, "under_1y": 0.3, "over_1y": 0.5}
USERS_PER_ARM = 2_000_000
RESPONDER = "宝妈"
RUNS = 1000
P_NAMES, T_NAMES = list(PERSONAS), list(TENURE)
SHARE = np.outer(np.array(list(PERSONAS.values())) / sum(PERSONAS.values()), list(TENURE.values())).ravel()
BASE = np.repeat(0.10 * (0.8 + 0.4 * np.arange(12) / 11), 3)


def _true_lifts(heterogeneous: bool) -> dict[str, np.ndarray]:
    b = np.full(12, 0.03)
    if heterogeneous:
        b[P_NAMES.index(RESPONDER)] = 0.09
    return {"A": np.full(36, 0.04), "B": np.repeat(b, 3)}


def _ss(n: np.ndarray, k: np.ndarray) -> SufficientStats:
    return SufficientStats(int(n.sum()), float(k.sum()), float(k.sum()))


def _run(rng: np.random.Generator, lifts: dict[str, np.ndarray]):
    cells = {}
    for arm in ("control", "A", "B"):
        n = rng.multinomial(USERS_PER_ARM, SHARE)
        p = BASE * (1 + lifts[arm]) if arm != "control" else BASE
        cells[arm] = (n, rng.binomial(n, p))
    grid = np.arange(36).reshape(12, 3)
    parts = [(("persona",), (P_NAMES[i],), grid[i]) for i in range(12)]
    parts += [(("tenure",), (T_NAMES[j],), grid[:, j]) for j in range(3)]
    parts += [(("persona", "tenure"), (P_NAMES[i], T_NAMES[j]), grid[i, j:j + 1]) for i in range(12) for j in range(3)]
    comps = {}
    nc, kc = cells["control"]
    for arm in ("A", "B"):
        nt, kt = cells[arm]
        slices = [SliceStats(d, v, _ss(nc[ix], kc[ix]), _ss(nt[ix], kt[ix])) for d, v, ix in parts]
        comps[arm] = (slices, _ss(nc, kc), _ss(nt, kt))
    return explore_arms(comps, min_users=200, alpha=0.05)


def _true_gain(policy, lifts: dict[str, np.ndarray]) -> float:
    """The policy's gain over the true best single arm, from the true per-persona lifts."""
    w = (SHARE * BASE).reshape(12, 3).sum(1)
    w = w / w.sum()
    per = {"control": np.zeros(12), "A": lifts["A"][::3], "B": lifts["B"][::3]}
    best = max(per, key=lambda a: float(w @ per[a]))
    chosen = np.array([per[policy.to_dict()["assignments"].get(p, policy.default)][i] for i, p in enumerate(P_NAMES)])
    return float(w @ (chosen - per[best]))


def test_no_heterogeneity_no_calls_and_one_arm():
    rng = np.random.default_rng(20261241)
    lifts = _true_lifts(False)
    any_call = single = 0
    for _ in range(RUNS):
        ex = _run(rng, lifts)
        any_call += any(e.any_significant for e in ex.values())
        single += recommend(ex, control="control", dimension="persona").single_arm
    print(f"\nno heterogeneity: any slice significant {any_call / RUNS:.3f}, single-arm policy {single / RUNS:.3f}")
    assert any_call / RUNS <= 0.05
    assert single / RUNS >= 0.95


def test_one_persona_responding_three_times_more_is_found_first():
    rng = np.random.default_rng(20261242)
    lifts = _true_lifts(True)
    found_first = positive = 0
    gains = []
    for _ in range(RUNS):
        ex = _run(rng, lifts)
        b = ex["B"]
        top = b.ranked()[0]
        found = any(r.significant and RESPONDER in r.values for r in b.rows)
        found_first += found and RESPONDER in top.values
        pol = recommend(ex, control="control", dimension="persona")
        g = _true_gain(pol, lifts)
        gains.append(g)
        positive += g > 0
    print(f"\n3x persona: found and ranked first {found_first / RUNS:.3f}, true gain > 0 in {positive / RUNS:.3f}, "
          f"mean true gain {np.mean(gains):.5f}")
    assert found_first / RUNS >= 0.90
    assert positive / RUNS >= 0.90 and np.mean(gains) > 0


INTERACTION_RUNS = 10_000


def _interaction_runs(seed: int, lift_x: float, lift_y: float) -> tuple[float, float, float]:
    rng = np.random.default_rng(seed)
    n_both = 1_000_000
    interacted = dependent = flagged = 0
    for _ in range(INTERACTION_RUNS):
        counts = rng.multinomial(n_both, [0.25] * 4)
        cells = {}
        for (a, b), n in zip([("c", "x"), ("c", "y"), ("t", "x"), ("t", "y")], counts, strict=True):
            lift = 0.0 if a == "c" else (lift_x if b == "x" else lift_y)
            k = rng.binomial(n, 0.10 * (1 + lift))
            cells[(a, b)] = SufficientStats(int(n), float(k), float(k))
        res = interaction(cells, experiment="E1", other="E2", control="c", treatment="t")
        interacted += res.interaction_p is not None and res.interaction_p < 0.01
        dependent += res.chi2_p is not None and res.chi2_p < 0.01
        flagged += res.flagged
    return interacted / INTERACTION_RUNS, dependent / INTERACTION_RUNS, flagged / INTERACTION_RUNS


def test_interaction_flags_a_planted_one_and_is_silent_without():
    planted = _interaction_runs(27, 0.06, 0.0)
    null = _interaction_runs(28, 0.03, 0.03)
    print(f"\ninteraction p<0.01: planted {planted[0]:.3f}, none {null[0]:.3f}; "
          f"assignment chi2 p<0.01 under independence {null[1]:.3f}; either flag under the null {null[2]:.3f}")
    assert planted[0] >= 0.99
    # Both are calibrated 1% tests, so "≤ 1%" of runs holds up to binomial noise: 1% + 3 sd (0.3%).
    # Earlier 1,000-run seeds gave 1.1% and 1.5% for the interaction test; 10,000-run seeds 0.96%, 0.89%.
    noise = 3 * np.sqrt(0.01 * 0.99 / INTERACTION_RUNS)
    assert null[0] <= 0.01 + noise
    assert null[1] <= 0.01 + noise

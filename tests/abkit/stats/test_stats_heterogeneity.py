"""Explorer, policy and interaction tests against independent references (statsmodels, scipy, closed forms)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.meta_analysis import combine_effects
from statsmodels.stats.multitest import multipletests

from abkit.stats import SufficientStats, compare
from abkit.stats.heterogeneity import (
    Exploration,
    SliceRow,
    SliceStats,
    difference_p_value,
    explore,
    explore_arms,
    subtract,
    tau2_moments,
)
from abkit.stats.interaction import assignment_independence, interaction
from abkit.stats.policy import recommend


def _prop(n: int, k: int) -> SufficientStats:
    return SufficientStats(n, float(k), float(k))


def _total(parts):
    return SufficientStats(sum(p.n for p in parts), sum(p.sum_y for p in parts), sum(p.sum_y2 for p in parts))


def _persona_slices(rng, n_per_cell, p_c, lifts):
    slices, cs, ts = [], [], []
    for i, (p, lift) in enumerate(zip(p_c, lifts, strict=True)):
        c = _prop(n_per_cell, rng.binomial(n_per_cell, p))
        t = _prop(n_per_cell, rng.binomial(n_per_cell, p * (1 + lift)))
        slices.append(SliceStats(("persona",), (f"p{i}",), c, t))
        cs.append(c)
        ts.append(t)
    return slices, _total(cs), _total(ts)


def test_tau2_and_q_match_statsmodels_dersimonian_laird():
    est = np.array([0.10, 0.02, 0.25, -0.05, 0.12])
    se = np.array([0.04, 0.05, 0.06, 0.05, 0.03])
    tau2, q = tau2_moments(est, se)
    ref = combine_effects(est, se**2, method_re="chi2")
    assert q == pytest.approx(ref.q, rel=1e-12)
    assert tau2 == pytest.approx(max(ref.tau2, 0.0), rel=1e-10)
    assert tau2 > 0


def test_explore_shrinks_flags_and_ranks():
    rng = np.random.default_rng(2)
    lifts = [0.05] * 7 + [0.30]
    slices, c, t = _persona_slices(rng, 20_000, [0.1] * 8, lifts)
    ex = explore(slices, c, t)
    top = ex.ranked()[0]
    assert top.values == ("p7",) and top.significant
    assert ex.tests[0].p_value < 1e-6 and ex.tests[0].df == 7
    # shrinkage is the normal–normal posterior mean toward the overall lift with DL τ²
    mu = compare(c, t, cuped=False).rel_lift
    tau2 = ex.tests[0].tau2
    for r in ex.rows:
        b = tau2 / (tau2 + r.rel_se**2)
        assert r.shrunk_lift == pytest.approx(mu + b * (r.rel_lift - mu), rel=1e-12)
        assert abs(r.shrunk_lift - mu) <= abs(r.rel_lift - mu) + 1e-15
    # the rest of a slice is the overall sums minus the slice's; the z test against it, BH across slices
    r0, s0 = ex.rows[0], slices[0]
    a = compare(s0.control, s0.treatment, cuped=False, min_events=0)
    rest = compare(subtract(c, s0.control), subtract(t, s0.treatment), cuped=False, min_events=0)
    # log ratio of means: se(log(1 + lift)) = se / (1 + lift) by the delta method
    z = (math.log1p(a.rel_lift) - math.log1p(rest.rel_lift)) / math.hypot(
        a.rel_se / (1 + a.rel_lift), rest.rel_se / (1 + rest.rel_lift))
    assert r0.p_vs_rest == pytest.approx(2 * sps.norm.sf(abs(z)), rel=1e-12)
    ref_q = multipletests([r.p_vs_rest for r in ex.rows], method="fdr_bh")[1]
    assert [r.q_value for r in ex.rows] == pytest.approx(list(ref_q), rel=1e-12)
    assert sum(r.weight for r in ex.rows) == pytest.approx(1.0)


def test_no_heterogeneity_shrinks_to_overall_and_policy_is_single_arm():
    rng = np.random.default_rng(9)
    slices, c, t = _persona_slices(rng, 20_000, [0.1] * 8, [0.05] * 8)
    ex = explore(slices, c, t)
    if ex.tests[0].tau2 == 0:
        assert all(r.shrunk_lift == pytest.approx(ex.overall_lift) for r in ex.rows)
    pol = recommend({"B": ex}, control="A", dimension="persona")
    assert pol.single_arm == (not ex.any_significant)
    assert pol.gain == 0.0 if pol.single_arm else True


def test_small_slices_are_skipped_and_not_in_the_fdr_family():
    rng = np.random.default_rng(1)
    slices, c, t = _persona_slices(rng, 5_000, [0.1] * 3, [0.0] * 3)
    tiny = SliceStats(("persona",), ("tiny",), _prop(50, 5), _prop(50, 9))
    ex = explore([*slices, tiny], _total([c, tiny.control]), _total([t, tiny.treatment]), min_users=200)
    assert len(ex.rows) == 3 and "tiny" in ex.skipped[0]


def test_fdr_is_hierarchical_over_arms_and_dimensions():
    """Benjamini–Bogomolov with a Šidák–Bonferroni family gate: family (arm, dimension) p =
    1 − (1 − min p)^k, selected when below alpha/m; within a selected family BH at alpha·R/m;
    nothing is called in an unselected family."""
    rng = np.random.default_rng(4)
    a = _persona_slices(rng, 10_000, [0.1] * 4, [0.0] * 4)
    b = _persona_slices(rng, 10_000, [0.1] * 4, [0.0, 0.0, 0.0, 0.4])
    out = explore_arms({"A": a, "B": b})
    fam_p = np.array([1 - (1 - min(r.p_vs_rest for r in ex.rows)) ** len(ex.rows) for ex in out.values()])
    selected = fam_p * len(fam_p) < 0.05
    assert list(selected) == [False, True]
    b_rows = out["B"].rows
    within = multipletests([r.p_vs_rest for r in b_rows], method="fdr_bh")[1] * 2 / 1
    assert [r.q_value for r in b_rows] == pytest.approx(list(np.minimum(within, 1.0)), rel=1e-12)
    assert [r.significant for r in b_rows] == list(np.minimum(within, 1.0) < 0.05)
    assert b_rows[3].significant and not any(r.significant for r in out["A"].rows)
    assert all(r.q_value >= min(1.0, fam_p[0] * 2) for r in out["A"].rows)


def test_slice_versus_rest_p_value_holds_its_level_in_the_deep_tail():
    """A small slice (16,000 users per arm, conversion 8%) against the rest (1.98M): the family
    gates test near p = 1e-4, where the linear z of the ratio of two means rejects about 1.4 times
    too often (binomial simulation, 4M draws); the log-ratio z holds the level."""
    rng = np.random.default_rng(31)
    draws, level = 4_000_000, 2e-4

    def lift(n, p, k):
        kc, kt = rng.binomial(n, p, k), rng.binomial(n, p * 1.04, k)
        mc, mt = kc / n, kt / n
        se = np.sqrt(mt * (1 - mt) / n / mc**2 + mt**2 * mc * (1 - mc) / n / mc**4)  # delta method
        return mt / mc - 1, se

    small, big = lift(16_000, 0.08, draws), lift(1_984_000, 0.10, draws)
    rejected = int((difference_p_value(*small, *big) < level).sum())
    expected = draws * level
    assert abs(rejected - expected) <= 4 * math.sqrt(expected)  # 800 ± 113; the linear z gives ≈ 1,100
    linear = 2 * sps.norm.sf(np.abs((small[0] - big[0]) / np.hypot(small[1], big[1])))
    assert (linear < level).sum() > expected + 4 * math.sqrt(expected)  # the skew this guards against


def test_policy_switches_a_segment_only_on_an_fdr_call():
    rng = np.random.default_rng(6)
    # arm A: +7% everywhere; arm B: +3%, but persona p2 +15% (B overall ≈ 6%)
    p_c = [0.1] * 4
    cells_c = [rng.binomial(200_000, p) for p in p_c]
    comps = {}
    for arm, lifts in {"A": [0.07] * 4, "B": [0.03, 0.03, 0.15, 0.03]}.items():
        slices = []
        for i, (p, lift) in enumerate(zip(p_c, lifts, strict=True)):
            slices.append(SliceStats(("persona",), (f"p{i}",), _prop(200_000, cells_c[i]),
                                     _prop(200_000, rng.binomial(200_000, p * (1 + lift)))))
        comps[arm] = (slices, _total([s.control for s in slices]), _total([s.treatment for s in slices]))
    pol = recommend(explore_arms(comps), control="control", dimension="persona", metric="conversion_rate")
    assert pol.best_single_arm == "A"
    assert pol.to_dict()["assignments"] == {"p0": "A", "p1": "A", "p2": "B", "p3": "A"}
    assert 0 < pol.gain < 0.05 and pol.gain_se > 0 and pol.gain / pol.gain_se > 2
    assert "follow-up experiment" in pol.note


def _exploration(overall: float, shrunk: dict[str, float], weights: dict[str, float], called: set[str]) -> Exploration:
    rows = [SliceRow(("persona",), (p,), f"persona={p}", 1000, 1000, 0.1, x, 0.01, x - 0.02, x + 0.02, 0.5, 0.5,
                     p in called, x, 0.01, weights[p]) for p, x in shrunk.items()]
    return Exploration(overall, 0.005, rows, [], 0.05, 200)


def test_policy_gives_the_others_the_best_arm_once_a_responder_is_carved_out():
    """Arm B leads overall (4.9% vs 4%) only because persona p0 (10% of the weight) responds +40%;
    on the other personas A (+4%) beats B (+1%). The policy: p0 → B (its call), the others → A,
    not the best single arm B; gain over B-for-everyone = Σ w·(A − B) over the others = 0.9 × 3%."""
    w = {"p0": 0.1, "p1": 0.45, "p2": 0.45}
    ex = {"A": _exploration(0.04, {"p0": 0.04, "p1": 0.04, "p2": 0.04}, w, set()),
          "B": _exploration(0.049, {"p0": 0.40, "p1": 0.01, "p2": 0.01}, w, {"p0"})}
    pol = recommend(ex, control="control", dimension="persona")
    assert pol.best_single_arm == "B" and pol.default == "A" and not pol.single_arm
    assert pol.to_dict()["assignments"] == {"p0": "B", "p1": "A", "p2": "A"}
    assert pol.gain == pytest.approx(0.9 * 0.03, rel=1e-12)
    # without the call, nothing is carved out and B (the best single arm) goes to everyone
    ex["B"] = _exploration(0.049, {"p0": 0.40, "p1": 0.01, "p2": 0.01}, w, set())
    pol = recommend(ex, control="control", dimension="persona")
    assert pol.single_arm and pol.default == "B" and pol.gain == 0.0


def test_assignment_chi2_matches_scipy():
    table = np.array([[480, 520], [515, 485]])
    chi2, df, p = assignment_independence(table)
    ref = sps.chi2_contingency(table, correction=False)
    assert (chi2, df, p) == pytest.approx((ref.statistic, ref.dof, ref.pvalue), rel=1e-12)
    assert assignment_independence(np.array([[10, 0], [12, 0]]))[0] is None


def test_interaction_with_two_arms_is_the_z_test_of_the_difference():
    rng = np.random.default_rng(3)
    n = 50_000
    cells = {(a, b): _prop(n, rng.binomial(n, 0.1 * (1 + (0.08 if (a, b) == ("t", "y") else 0.0))))
             for a in ("c", "t") for b in ("x", "y")}
    res = interaction(cells, experiment="E1", other="E2", control="c", treatment="t")
    lx = compare(cells[("c", "x")], cells[("t", "x")], cuped=False, min_events=0)
    ly = compare(cells[("c", "y")], cells[("t", "y")], cuped=False, min_events=0)
    z = (ly.rel_lift - lx.rel_lift) / math.hypot(lx.rel_se, ly.rel_se)
    assert res.interaction_p == pytest.approx(2 * sps.norm.sf(abs(z)), rel=1e-10)
    assert res.flagged and "differs" in res.message and res.users_in_both == 4 * n

"""SRM against scipy's χ² test; Holm and BH against statsmodels.multipletests."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from abkit.stats import adjust_pvalues, srm_test


@pytest.mark.parametrize("obs, w", [([1000, 980, 1040], [1, 1, 1]), ([5000, 15200], [0.25, 0.75]),
                                    ([7000, 3000], [70, 30]), ([980, 2100, 1010], [0.25, 0.5, 0.25])])
def test_srm_matches_scipy(obs, w):
    r = srm_test(obs, w)
    exp = np.array(w) / sum(w) * sum(obs)
    ref = stats.chisquare(obs, exp)
    assert r.chi2 == pytest.approx(ref.statistic, rel=1e-12)
    assert r.p_value == pytest.approx(ref.pvalue, rel=1e-10)
    assert r.expected == pytest.approx(list(exp))


def test_srm_flags_mismatch_and_validates():
    assert srm_test([10_000, 10_500], [0.5, 0.5]).ok is False
    assert srm_test([10_000, 10_100], [0.5, 0.5]).ok is True
    assert srm_test([0, 0], [1, 1]).ok is True
    with pytest.raises(ValueError):
        srm_test([10, 10], [1, 0])
    with pytest.raises(ValueError):
        srm_test([10, 10], [1])


@pytest.mark.parametrize("method, sm", [("holm", "holm"), ("bh", "fdr_bh")])
def test_multipletests_agree(method, sm):
    rng = np.random.default_rng(0)
    for _ in range(20):
        p = np.r_[rng.uniform(0, 0.05, 3), rng.uniform(0, 1, 5)]
        p[rng.integers(0, 8)] = p[0]  # ties
        ref = multipletests(p, method=sm)[1]
        assert adjust_pvalues(list(p), method) == pytest.approx(list(ref), abs=1e-14)


def test_none_passes_through_and_is_not_counted():
    p = [0.01, None, 0.04, 0.03, None, 0.005]
    out = adjust_pvalues(p, "holm")
    assert out[1] is None and out[4] is None
    assert [out[i] for i in (0, 2, 3, 5)] == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert adjust_pvalues([None, None], "bh") == [None, None]
    assert adjust_pvalues([0.2, None], "none") == [0.2, None]
    with pytest.raises(ValueError):
        adjust_pvalues([0.1], "bonferroni-ish")

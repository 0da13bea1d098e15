"""Shared inputs for the stats tests: sufficient statistics whose reference results come from gbstats 0.8.0 and tea-tasting 1.14 and a realistic
data-generating process (vectorized over simulated experiments)."""

from __future__ import annotations

import numpy as np
import pytest

from abkit.stats import SufficientStats

# reference inputs for gbstats 0.8.0 / tea-tasting 1.14, per arm (20,000 users each)
ORACLE_A = {
    "control": dict(n=20000, c=13904, c2=33922, e=219141, e2=3573535, ce=229940, conv=1569,
                    r=394521.45, r2=38267449.5337, x=572703.31, x2=66328313.8855, rx=20557503.6803),
    "treatment": dict(n=20000, c=14510, c2=35472, e=221173, e2=3636775, ce=236465, conv=1670,
                      r=407484.40, r2=41343269.1346, x=579348.78, x2=70570268.5146, rx=22377498.0961),
}


@pytest.fixture(scope="session")
def oracle_a() -> dict[str, dict[str, SufficientStats]]:
    """{'ctr'|'conversion'|'revenue'|'revenue_cuped': (control, treatment) SufficientStats}."""
    out: dict[str, dict[str, SufficientStats]] = {}
    for arm, a in ORACLE_A.items():
        out.setdefault("ctr", {})[arm] = SufficientStats(a["n"], a["c"], a["c2"], a["e"], a["e2"], a["ce"])
        out.setdefault("conversion", {})[arm] = SufficientStats(a["n"], a["conv"], a["conv"])
        out.setdefault("revenue", {})[arm] = SufficientStats(a["n"], a["r"], a["r2"])
        out.setdefault("revenue_cuped", {})[arm] = SufficientStats(
            a["n"], a["r"], a["r2"], sum_x=a["x"], sum_x2=a["x2"], sum_xy=a["rx"])
    return out


def simulate_users(rng: np.random.Generator, shape: tuple[int, ...], *, click_lift: float = 0.0,
                   revenue_lift: float = 0.0, bot_share: float = 0.002) -> dict[str, np.ndarray]:
    """Per-user columns for arrays of users (e.g. shape (experiments, users)).

    Heavy-tailed exposures (log-normal, median ~5, long right tail), a per-user click rate from
    Beta(1.5, 28) (mean ~5%), a few bots with thousands of exposures and almost no clicks;
    conversion driven by the user's latent propensity (not the realized clicks) and a
    zero-inflated log-normal revenue scaled by a per-user spend level shared with the pre-period
    (so CUPED has something to find). Treatment: click rates × (1 + click_lift) -> CTR lift
    exactly click_lift; order values × (1 + revenue_lift) -> revenue lift exactly revenue_lift.
    """
    exp_ = np.ceil(rng.lognormal(1.6, 1.0, shape)).astype(np.int64)
    bot = rng.random(shape) < bot_share
    exp_ = np.where(bot, rng.integers(100, 300, shape), exp_)
    p = rng.beta(1.5, 28.0, shape)
    p = np.where(bot, 0.002, p)
    clicks = rng.binomial(exp_, p * (1 + click_lift))
    propensity = np.minimum(4.0 * p, 0.9)
    spend = rng.lognormal(3.0, 0.8, shape)
    conv = rng.random(shape) < propensity
    revenue = np.where(conv, spend * rng.lognormal(0.0, 0.6, shape), 0.0) * (1 + revenue_lift)
    pre_exp = np.ceil(rng.lognormal(1.6, 1.0, shape)).astype(np.int64)
    pre_clicks = rng.binomial(pre_exp, p)
    pre_conv = rng.random(shape) < propensity
    pre_revenue = np.where(pre_conv, spend * rng.lognormal(0.0, 0.6, shape), 0.0)
    return {"exposures": exp_.astype(float), "clicks": clicks.astype(float), "converted": conv.astype(float),
            "revenue": revenue, "pre_clicks": pre_clicks.astype(float), "pre_converted": pre_conv.astype(float),
            "pre_revenue": pre_revenue}


def arm_sums(u: dict[str, np.ndarray], axis: int = -1) -> dict[str, np.ndarray]:
    """The sums each metric needs (same as the warehouse's aggregation), over `axis`."""
    s = lambda v: v.sum(axis=axis)  # noqa: E731
    y, d = u["clicks"], u["exposures"]
    return {
        "n": np.full(s(y).shape, y.shape[axis]),
        "c": s(y), "c2": s(y * y), "e": s(d), "e2": s(d * d), "ce": s(y * d),
        "xc": s(u["pre_clicks"]), "xc2": s(u["pre_clicks"] ** 2), "xcc": s(u["pre_clicks"] * y),
        "xce": s(u["pre_clicks"] * d),
        "conv": s(u["converted"]), "xv": s(u["pre_converted"]), "xvv": s(u["pre_converted"] * u["converted"]),
        "r": s(u["revenue"]), "r2": s(u["revenue"] ** 2), "xr": s(u["pre_revenue"]),
        "xr2": s(u["pre_revenue"] ** 2), "xrr": s(u["pre_revenue"] * u["revenue"]),
    }


def metric_stats(sums: dict[str, np.ndarray], i) -> dict[str, SufficientStats]:
    """SufficientStats per metric (with covariates) for experiment index i of `arm_sums` output."""
    g = {k: float(v[i]) for k, v in sums.items()}
    n = int(g["n"])
    return {
        "ctr": SufficientStats(n, g["c"], g["c2"], g["e"], g["e2"], g["ce"], g["xc"], g["xc2"], g["xcc"], g["xce"]),
        "conversion_rate": SufficientStats(n, g["conv"], g["conv"], sum_x=g["xv"], sum_x2=g["xv"], sum_xy=g["xvv"]),
        "revenue_per_user": SufficientStats(n, g["r"], g["r2"], sum_x=g["xr"], sum_x2=g["xr2"], sum_xy=g["xrr"]),
        "clicks_per_user": SufficientStats(n, g["c"], g["c2"], sum_x=g["xc"], sum_x2=g["xc2"], sum_xy=g["xcc"]),
    }


@pytest.fixture(scope="session")
def dgp():
    """The simulation helpers, as one fixture (conftest modules are not importable by name)."""
    return {"simulate_users": simulate_users, "arm_sums": arm_sums, "metric_stats": metric_stats,
            "simulate_sums": simulate_sums}


def simulate_sums(rng: np.random.Generator, runs: int, n: int, *, chunk_users: int = 2_000_000,
                  **effects) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per-experiment arm sums for `runs` experiments of n users per arm, generated in chunks of
    experiments so that memory stays bounded; treatment gets `effects` (see simulate_users)."""
    per = max(1, chunk_users // n)
    parts_c, parts_t = [], []
    for start in range(0, runs, per):
        k = min(per, runs - start)
        parts_c.append(arm_sums(simulate_users(rng, (k, n))))
        parts_t.append(arm_sums(simulate_users(rng, (k, n), **effects)))
    cat = lambda parts: {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}  # noqa: E731
    return cat(parts_c), cat(parts_t)

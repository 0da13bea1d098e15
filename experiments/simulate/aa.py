"""`abkit aa`: many simulated A/A experiments end to end (simulation → SQL → stats).

One world (catalog, population, the control's texts) is built once. Each run re-randomizes
the same users with its own hash seed (the real assignment code) and draws fresh behaviour.
Runs are vectorized in batches: a batch's users are the population tiled once per run, with
run-prefixed user ids and arms labelled ``"<run>|<arm>"``, so the analysis's own per-user SQL
(experiments.analysis.queries: seen_users → per_user → arm_stats) yields per-(run, arm) sufficient
statistics in one pass; abkit.stats.compare then tests every run. Under A/A every null is
true: the share of p < alpha is the false-positive rate, and the p-values should be uniform.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy import stats as sps

from abkit.spec import Spec
from abkit.stats import SufficientStats, compare, srm_test
from experiments.simulate.traffic import SimOptions, World, build_world, chunk_tables, simulate_chunk
from experiments.simulate.users import FixedPopulation

HIST_BINS = 20


TextsFor = Callable[[pd.DataFrame, int], pd.DataFrame]


def title_texts(items: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The plainest control texts: each item's title (``item_id, segment, text``)."""
    return items[["item_id", "title"]].rename(columns={"title": "text"}).assign(segment=None)


def aa_world(spec: Spec, n_users: int, *, seed: int = 0, n_items: int = 2000,
             texts_for: TextsFor = title_texts) -> World:
    """The shared world of an A/A study: generated catalog and users, the control's texts
    (``texts_for(items, seed)``; the CLI passes the reference corpus of generators/)."""
    from abkit.world.catalog import make_catalog
    from experiments.simulate.population import make_users

    items = make_catalog(n_items, seed)
    users = make_users(n_users, seed)
    texts = texts_for(items, seed)[["item_id", "segment", "text"]]
    reasons = texts.assign(arm=spec.control_arm, reason_id=[f"aa_{i}" for i in range(len(texts))])
    return in_memory(build_world(spec, users, items, reasons, SimOptions(seed=seed, mode="aa")))


def in_memory(world: World) -> World:
    """The world with its (small) population held in memory: every run re-assigns the same users."""
    if isinstance(world.population, FixedPopulation):
        return world
    return dataclasses.replace(world, population=FixedPopulation(world.population.materialize()))


def run_assignment(world: World, run: int, seed: int) -> np.ndarray:
    """Arm codes of the world's users for one run: the real assignment with a per-run hash seed."""
    from experiments.assign import assign_arms

    spec = world.spec.model_copy(update={"hash_seed": f"{world.spec.seed}_aa{seed}_{run}"})
    names = np.asarray(assign_arms(world.population.materialize().ids.to_numpy(zero_copy_only=False), spec),
                       dtype=object)
    index = {a: i for i, a in enumerate(world.arms)}
    return np.array([index.get(a, -1) if isinstance(a, str) else -1 for a in names], dtype=np.int8)


def tile_world(world: World, arms_per_run: list[np.ndarray], runs: list[int]) -> World:
    """The population once per run (user ids prefixed ``<run>:``), with each run's assignment."""
    users = world.population.materialize()
    ids = pa.concat_arrays([pc.binary_join_element_wise(pa.scalar(f"{r}:"), users.ids, "") for r in runs])
    tiled = users.tile(len(runs), ids, np.concatenate(arms_per_run))
    return dataclasses.replace(world, population=FixedPopulation(tiled))


def batch_tables(world: World, batch: World, runs: list[int], index: int) -> tuple[pa.Table, pa.Table]:
    """Simulate one batch and label each exposure's arm with its run."""
    ch = simulate_chunk(batch, batch.population.materialize(), index, with_truth=False)
    exposures, events = chunk_tables(batch, ch)
    labels = pa.array([f"{r}|{a}" for r in runs for a in world.arms], type=pa.string())
    code = (ch.x_user // world.n_users) * len(world.arms) + ch.x_arm.astype(np.int64)
    arm = labels.take(pa.array(code))
    return exposures.set_column(exposures.schema.get_field_index("arm"), "arm", arm), events


def batch_stats(spec: Spec, con: duckdb.DuckDBPyConnection, exposures: pa.Table, events: pa.Table,
                metrics: list[str]) -> pd.DataFrame:
    """Per (run, arm) sufficient statistics with the analysis's per-user SQL."""
    from experiments.analysis import queries as q

    rel = q.Relations(exposures="aa_exposures", events="aa_events", seen="aa_seen", per_user="aa_per_user")
    con.register("aa_exposures", exposures)
    con.register("aa_events", events)
    try:
        params = q.QueryParams.from_spec(spec)
        for query, name in ((q.seen_users(params, rel), rel.seen), (q.per_user(params, rel), rel.per_user)):
            con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {query.sql}", query.params)
        layout = q.stats_layout(metrics)
        query = q.arm_stats(layout, rel=rel)
        df = con.execute(query.sql, query.params).df()
    finally:
        con.unregister("aa_exposures")
        con.unregister("aa_events")
    split = df["arm"].str.split("|", n=1, expand=True)
    df["run"], df["arm"] = split[0].astype(int), split[1]
    df.attrs["layout"] = layout
    return df


def _stats(rec: dict[str, Any], fields: dict[str, str]) -> SufficientStats:
    return SufficientStats(n=int(rec["n"]), **{f: float(rec[a] or 0.0) for f, a in fields.items()})


def compare_runs(spec: Spec, df: pd.DataFrame, metrics: list[str]) -> pd.DataFrame:
    """One row per (run, treatment arm, metric): p-value, CI, and the SRM p-value of the run."""
    layout = df.attrs["layout"]
    out: list[dict[str, Any]] = []
    for run, g in df.groupby("run", sort=True):
        by_arm = {rec["arm"]: rec for rec in g.to_dict("records")}
        srm = srm_test([int(by_arm[a]["n"]) if a in by_arm else 0 for a in spec.arm_names], spec.weights)
        if spec.control_arm not in by_arm:
            continue
        for arm in spec.treatment_arms:
            if arm not in by_arm:
                continue
            for m in metrics:
                fields = layout.fields[m]
                r = compare(_stats(by_arm[spec.control_arm], fields), _stats(by_arm[arm], fields),
                            alpha=spec.alpha, cuped=spec.cuped)
                out.append({"run": run, "arm": arm, "metric": m, "p_value": r.p_value, "rel_lift": r.rel_lift,
                            "rel_ci_low": r.rel_ci_low, "rel_ci_high": r.rel_ci_high, "srm_p": srm.p_value})
    return pd.DataFrame(out)


def summarize(results: pd.DataFrame, runs: int, alpha: float, metrics: list[str]) -> dict[str, Any]:
    """False-positive rate per metric with a Clopper–Pearson 95% CI, p-value histograms, KS test."""
    from statsmodels.stats.proportion import proportion_confint

    fpr: dict[str, float | None] = {}
    ci: dict[str, list[float]] = {}
    hist: dict[str, list[int]] = {}
    ks: dict[str, float | None] = {}
    n_tests: dict[str, int] = {}
    for m in metrics:
        p = results.loc[results["metric"] == m, "p_value"].dropna().to_numpy(float)
        n_tests[m] = len(p)
        if not len(p):
            fpr[m], ks[m] = None, None
            ci[m] = [0.0, 1.0]
            hist[m] = [0] * HIST_BINS
            continue
        k = int((p < alpha).sum())
        fpr[m] = k / len(p)
        lo, hi = proportion_confint(k, len(p), alpha=0.05, method="beta")
        ci[m] = [float(lo), float(hi)]
        hist[m] = np.histogram(p, bins=HIST_BINS, range=(0.0, 1.0))[0].tolist()
        ks[m] = float(sps.kstest(p, "uniform").pvalue)
    srm = results.drop_duplicates("run")["srm_p"].dropna().to_numpy(float) if len(results) else np.array([])
    return {
        "runs": runs, "alpha": alpha, "false_positive_rate": fpr, "false_positive_ci": ci, "tests": n_tests,
        "p_value_histogram": {"bins": np.linspace(0, 1, HIST_BINS + 1).round(3).tolist(), "counts": hist},
        "uniformity_ks_p": ks,
        "srm_flag_rate": float((srm < 0.001).mean()) if len(srm) else None,
    }


def run_aa(spec: Spec, *, runs: int, n_users: int = 20_000, seed: int = 0, n_items: int = 2000,
           runs_per_batch: int | None = None, metrics: list[str] | None = None, progress: bool = False,
           world: World | None = None, texts_for: TextsFor = title_texts) -> dict[str, Any]:
    """Run ``runs`` A/A experiments of ``n_users`` users each; returns the calibration summary."""
    from tqdm import tqdm

    t0 = time.perf_counter()
    metrics = metrics or list(spec.all_metrics)
    world = in_memory(world or aa_world(spec, n_users, seed=seed, n_items=n_items, texts_for=texts_for))
    per_batch = runs_per_batch or max(1, 400_000 // max(world.n_users, 1))
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    frames: list[pd.DataFrame] = []
    with tqdm(total=runs, unit="run", desc="A/A", disable=None if progress else True, leave=False) as bar:
        for b, lo in enumerate(range(0, runs, per_batch)):
            batch_runs = list(range(lo, min(lo + per_batch, runs)))
            batch = tile_world(world, [run_assignment(world, r, seed) for r in batch_runs], batch_runs)
            exposures, events = batch_tables(world, batch, batch_runs, b)
            df = batch_stats(spec, con, exposures, events, metrics)
            frames.append(compare_runs(spec, df, metrics))
            bar.update(len(batch_runs))
    con.close()
    results = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["run", "arm", "metric", "p_value", "srm_p"])
    out = summarize(results, runs, spec.alpha, metrics)
    out.update({"experiment": spec.key, "users_per_run": n_users, "seed": seed,
                "cuped": spec.cuped, "seconds": round(time.perf_counter() - t0, 2)})
    return out

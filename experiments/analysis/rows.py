"""Metric rows: every metric of every compared pair of arms, tested on per-arm sufficient statistics,
with multiple-testing correction within each row's family (docs/interface.md, Metrics)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from abkit.metrics import METRICS
from abkit.spec import Spec
from abkit.stats.bayes import chance_to_beat
from abkit.stats.compare import compare
from abkit.stats.multiplicity import adjust_pvalues
from abkit.stats.sequential import sequential
from abkit.stats.types import SufficientStats, TestResult
from experiments.analysis import queries as q

Row = dict[str, Any]  # one metric row of the analysis JSON, before abkit.result.MetricRow reads it
ArmStats = dict[str, dict[str, SufficientStats]]  # arm -> metric -> sums
Pair = tuple[str, str]  # (treatment arm, baseline arm)
Results = dict[tuple[str, str, str], TestResult]  # (metric, arm, baseline) -> test


def stats_by_key(df: pd.DataFrame, layout: q.StatsLayout, key_cols: Sequence[str]
                 ) -> dict[tuple[Any, ...], dict[str, SufficientStats]]:
    """Per-key (arm, or arm and dimension value) sufficient statistics of every metric in ``layout``."""
    out: dict[tuple[Any, ...], dict[str, SufficientStats]] = {}
    for rec in df.to_dict("records"):
        key = tuple(None if isinstance(rec[c], float) and math.isnan(rec[c]) else rec[c] for c in key_cols)
        out[key] = {
            m: SufficientStats(n=int(rec["n"]), **{f: float(rec[a] or 0.0) for f, a in fields.items()})
            for m, fields in layout.fields.items()
        }
    return out


def empty_stats(layout: q.StatsLayout) -> dict[str, SufficientStats]:
    return {m: SufficientStats(n=0, **{f: 0.0 for f in fields}) for m, fields in layout.fields.items()}


def family(spec: Spec, metric: str) -> str:
    if metric == spec.primary_metric:
        return "primary"
    if metric in spec.secondary:
        return "secondary"
    if metric in {g.metric for g in spec.guardrails}:
        return "guardrail"
    return "other"


def metric_row(metric: str, arm: str, baseline: str, family_: str, r: TestResult, spec: Spec, n_pair: int) -> Row:
    m = METRICS[metric]
    ctb, loss = chance_to_beat(r, higher_is_better=m.higher_is_better)
    row: Row = {
        "metric": metric, "arm": arm, "baseline": baseline, "family": family_,
        "control_value": r.control_value, "treatment_value": r.treatment_value,
        "abs_lift": r.abs_lift, "abs_ci_low": r.abs_ci_low, "abs_ci_high": r.abs_ci_high,
        "rel_lift": r.rel_lift, "rel_ci_low": r.rel_ci_low, "rel_ci_high": r.rel_ci_high,
        "p_value": r.p_value, "p_value_adjusted": None,
        "cuped": r.cuped, "variance_reduction": r.variance_reduction, "warning": r.warning,
        "kind": m.kind, "higher_is_better": m.higher_is_better,
        "n_control": r.extra.get("n_control"), "n_treatment": r.extra.get("n_treatment"),
        "theta": r.theta, "chance_to_beat": ctb, "expected_loss": loss,
    }
    if spec.sequential.enabled:
        s = sequential(r, n_pair, tuning_n=spec.sequential.tuning_n, alpha=spec.alpha)
        row.update(seq_rel_ci_low=s.seq_rel_ci_low, seq_rel_ci_high=s.seq_rel_ci_high,
                   seq_p_value=s.seq_p_value, seq_p_value_adjusted=None)
    return row


def compare_pairs(spec: Spec, by_arm: ArmStats, metrics: Sequence[str], pairs: Sequence[Pair],
                  family_of: Callable[[str], str]) -> tuple[list[Row], Results]:
    """One row per (pair, metric), CUPED where the metric has a covariate and the spec asks for it."""
    rows, results = [], {}
    for arm, base in pairs:
        for metric in metrics:
            c, t = by_arm[base][metric], by_arm[arm][metric]
            use_cuped = spec.cuped and METRICS[metric].covariate is not None
            r = compare(c, t, alpha=spec.alpha, cuped=use_cuped)
            results[(metric, arm, base)] = r
            rows.append(metric_row(metric, arm, base, family_of(metric), r, spec, c.n + t.n))
    return rows, results


def adjust(rows: list[Row], method: str, alpha: float) -> None:
    """Adjusted p-values within each row's family; ``significant`` and ``ci_disagrees`` set once, here."""
    families: dict[str, list[Row]] = {}
    for r in rows:
        families.setdefault(r["family"], []).append(r)
    for members in families.values():
        for key in ("p_value", "seq_p_value"):
            if key in members[0]:
                adj = adjust_pvalues([r[key] for r in members], method)  # type: ignore[arg-type]
                for r, a in zip(members, adj, strict=True):
                    r[f"{key}_adjusted"] = a
    for r in rows:
        p, lo, hi = r["p_value"], r["rel_ci_low"], r["rel_ci_high"]
        r["significant"] = p is not None and r["p_value_adjusted"] < alpha
        r["ci_disagrees"] = (p is not None and lo is not None and hi is not None
                             and (p < alpha) != (lo > 0 or hi < 0))


def vs_control(spec: Spec) -> list[Pair]:
    return [(a, spec.control_arm) for a in spec.treatment_arms]


def metric_rows(spec: Spec, by_arm: ArmStats) -> tuple[list[Row], Results]:
    """Every metric for every treatment arm vs control, then the spec's comparisons; adjusted."""
    metrics = spec.all_metrics
    rows, results = compare_pairs(spec, by_arm, metrics, vs_control(spec), lambda m: family(spec, m))
    if spec.comparisons:
        more, more_results = compare_pairs(spec, by_arm, metrics, spec.comparisons,
                                           lambda m: f"comparison:{family(spec, m)}")
        rows += more
        results.update(more_results)
    adjust(rows, spec.correction, spec.alpha)
    return rows, results

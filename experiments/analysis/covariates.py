"""Regression adjustment in the engine: covariate design and per-arm cross-products.

The covariate vector x of a spec's ``covariates:`` is (1) pre-period metric columns of the per-user
table, (2) 0/1 indicators of categorical user attributes (every level but the most frequent; rarer
levels beyond ``max_levels`` join the reference group) and (3) numeric user attributes (missing or not a number → 0).
One SQL statement per analysis returns, per arm, n, Σx, Σxxᵀ, Σxy and Σxd for every metric: a few
hundred sums, whatever the number of users. Level values are bound parameters; identifiers are
validated names from code (the attribute names pass the spec's column-name check and become ``a<i>``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from abkit.metrics import METRICS
from abkit.spec import Spec
from abkit.stats.regression import CrossProducts
from experiments.analysis import queries as q
from experiments.analysis.engines.base import Engine

ATTRIBUTES_TABLE = "abkit_user_attributes"


def attribute_sql(name: str, i: int) -> str:
    """The users-table expression of attribute ``i`` (``segment`` is a column, the rest keys of ``extra``)."""
    return "min(segment)" if name == "segment" else f"min(extra[$attr_{i}])"


def user_attributes(categorical: list[str], numeric: list[str], per_user_columns: list[str],
                    rel: q.Relations = q.DEFAULT_RELATIONS) -> q.Query:
    """One row per analysis user: arm, the named per-user columns, attributes ``a<i>`` (text) and ``v<i>`` (double)."""
    names = [*categorical, *numeric]
    picks = "".join(f", {attribute_sql(n, i)} AS a{i}" for i, n in enumerate(names))
    cols = "".join(f",\n       ua.a{i} AS a{i}" for i in range(len(categorical)))
    cols += "".join(f",\n       COALESCE(TRY_CAST(ua.a{len(categorical) + j} AS DOUBLE), 0.0) AS v{j}"
                    for j in range(len(numeric)))
    sql = q.render(q.load_sql("user_attributes"), {
        "per_user_columns": "".join(f", p.{q._column(c)}" for c in per_user_columns),
        "attribute_columns": cols, "attribute_picks": picks, "per_user": rel.per_user, "users": rel.users})
    return q._bind("user_attributes", sql, {f"attr_{i}": n for i, n in enumerate(names) if n != "segment"})


def attribute_levels(i: int, max_levels: int) -> q.Query:
    # LIMIT takes a literal on every engine: an int from the validated spec, never text
    sql = q.render(q.load_sql("attribute_levels"), {"attribute": f"a{int(i)}", "attributes": ATTRIBUTES_TABLE,
                                                    "max_levels": str(int(max_levels))})
    return q._bind("attribute_levels", sql, {})


@dataclass(frozen=True)
class Design:
    """The covariate columns: names shown in results, SQL expressions over the attributes table, bound values."""

    names: tuple[str, ...]
    expressions: tuple[str, ...]
    values: dict[str, Any]
    pre_period: tuple[str, ...]  # per-user columns among the covariates


def pre_period_columns(spec: Spec) -> tuple[str, ...]:
    cov = spec.covariates
    chosen = spec.all_metrics if cov is None or cov.pre_period == "all" else [*cov.pre_period, *spec.all_metrics]
    return tuple(dict.fromkeys(c for m in chosen if (c := METRICS[m].covariate) is not None))


def design(spec: Spec, levels: list[list[str]]) -> Design:
    """Covariate columns from the spec and the levels found for each categorical attribute."""
    assert spec.covariates is not None
    names, exprs, values = [], [], {}
    pre = pre_period_columns(spec)
    for c in pre:
        names.append(c)
        exprs.append(f"CAST({q._column(c)} AS DOUBLE)")
    for i, (attr, lv) in enumerate(zip(spec.covariates.attributes, levels, strict=True)):
        for k, level in enumerate(lv[1:], 1):
            names.append(f"{attr}={level}")
            exprs.append(f"CASE WHEN a{i} = $lvl_{i}_{k} THEN 1.0 ELSE 0.0 END")
            values[f"lvl_{i}_{k}"] = level
    for j, attr in enumerate(spec.covariates.numeric_attributes):
        names.append(attr)
        exprs.append(f"v{j}")
    return Design(tuple(names), tuple(exprs), values, pre)


def _metric_columns(spec: Spec, caps: dict[str, float]) -> dict[str, tuple[str, str | None]]:
    out = {}
    for key in spec.all_metrics:
        m = METRICS[key]
        y = f"CAST({q._column(m.numerator)} AS DOUBLE)"
        if m.kind == "mean" and m.numerator in caps:
            y = f"LEAST({y}, $cap_{m.numerator})"
        out[key] = (y, f"CAST({q._column(m.denominator)} AS DOUBLE)" if m.denominator else None)
    return out


def covariate_stats_query(spec: Spec, d: Design, caps: dict[str, float]) -> tuple[q.Query, dict[str, Any]]:
    """The cross-products statement and the alias map {metric: {field: alias or [aliases]}}."""
    metrics = _metric_columns(spec, caps)
    cols = [f"        {e} AS x{j}" for j, e in enumerate(d.expressions)]
    ys: dict[str, str] = {}
    for y, dd in metrics.values():
        ys.setdefault(y, f"y{len(ys)}")
        if dd is not None:
            ys.setdefault(dd, f"y{len(ys)}")
    cols += [f"        {e} AS {alias}" for e, alias in ys.items()]
    p = len(d.names)
    aliases: dict[str, str] = {}

    def agg(expr: str) -> str:
        aliases.setdefault(expr, f"s{len(aliases)}")
        return aliases[expr]

    layout: dict[str, Any] = {"x": [agg(f"sum(x{j})") for j in range(p)],
                              "xx": [[agg(f"sum(x{min(j, k)} * x{max(j, k)})") for k in range(p)] for j in range(p)]}
    for key, (y, dd) in metrics.items():
        yv = ys[y]
        f: dict[str, Any] = {"sum_y": agg(f"sum({yv})"), "sum_y2": agg(f"sum({yv} * {yv})"),
                             "xy": [agg(f"sum(x{j} * {yv})") for j in range(p)]}
        if dd is not None:
            dv = ys[dd]
            f.update(sum_d=agg(f"sum({dv})"), sum_d2=agg(f"sum({dv} * {dv})"), sum_yd=agg(f"sum({yv} * {dv})"),
                     xd=[agg(f"sum(x{j} * {dv})") for j in range(p)])
        layout[key] = f
    sql = q.render(q.load_sql("covariate_stats"), {
        "columns": ",\n".join(cols), "attributes": ATTRIBUTES_TABLE,
        "sums": ",\n".join(f"    {expr} AS {alias}" for expr, alias in aliases.items())})
    values = {**d.values, **{f"cap_{c}": float(v) for c, v in caps.items()}}
    return q._bind("covariate_stats", sql, values), layout


def cross_products(frame: pd.DataFrame, layout: dict[str, Any], names: tuple[str, ...]
                   ) -> dict[str, dict[str, CrossProducts]]:
    """{arm: {metric: CrossProducts}} from the statement's per-arm row."""
    out: dict[str, dict[str, CrossProducts]] = {}
    for rec in frame.to_dict("records"):
        def v(alias: str, rec: dict[str, Any] = rec) -> float:
            x = rec[alias]
            return 0.0 if x is None or (isinstance(x, float) and np.isnan(x)) else float(x)

        sx = np.array([v(a) for a in layout["x"]])
        sxx = np.array([[v(a) for a in row] for row in layout["xx"]])
        arm: dict[str, CrossProducts] = {}
        for key, f in layout.items():
            if key in ("x", "xx"):
                continue
            ratio = "sum_d" in f
            arm[key] = CrossProducts(
                int(rec["n"]), v(f["sum_y"]), v(f["sum_y2"]), sx, sxx, np.array([v(a) for a in f["xy"]]), names,
                v(f["sum_d"]) if ratio else None, v(f["sum_d2"]) if ratio else None,
                v(f["sum_yd"]) if ratio else None, np.array([v(a) for a in f["xd"]]) if ratio else None)
        out[str(rec["arm"])] = arm
    return out


def metric_covariates(spec: Spec, metric: str, names: tuple[str, ...], d: Design) -> list[int]:
    """Positions of the covariates that adjust ``metric``: its own pre-period column, the chosen
    metrics' pre-period columns, and every attribute column."""
    assert spec.covariates is not None
    own = METRICS[metric].covariate
    chosen = set(d.pre_period) if spec.covariates.pre_period == "all" else {
        c for m in spec.covariates.pre_period if (c := METRICS[m].covariate) is not None}
    if own is not None:
        chosen.add(own)
    return [j for j, n in enumerate(names) if n in chosen or n not in d.pre_period]


def covariate_cross_products(spec: Spec, engine: Engine, rel: q.Relations, caps: dict[str, float]
                             ) -> tuple[dict[str, dict[str, CrossProducts]], Design]:
    """Per arm and metric, the cross-products of the spec's covariates (the per-user table must exist)."""
    assert spec.covariates is not None
    cov = spec.covariates
    metric_cols = sorted({c for k in spec.all_metrics for c in (METRICS[k].numerator, METRICS[k].denominator) if c})
    engine.materialize(user_attributes(cov.attributes, cov.numeric_attributes,
                                       [*pre_period_columns(spec), *metric_cols], rel), ATTRIBUTES_TABLE)
    try:
        levels = [[str(x) for x in engine.frame(attribute_levels(i, cov.max_levels))["level"]]
                  for i in range(len(cov.attributes))]
        d = design(spec, levels)
        query, layout = covariate_stats_query(spec, d, caps)
        return cross_products(engine.frame(query), layout, d.names), d
    finally:
        engine.drop(ATTRIBUTES_TABLE)

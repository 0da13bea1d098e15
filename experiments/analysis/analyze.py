"""`analyze`: raw logs → per-user rows → per-arm sufficient statistics → tests → decision.

The heavy lifting stays in DuckDB (experiments/analysis/sql/, rendered by experiments/queries.py); only
per-arm (× dimension) sums come back to Python, where the stats engine (abkit/stats) compares
arms and abkit/decision applies the docs/interface.md, Analysis JSON policy. The result prints as a rich table,
turns into a DataFrame, and serializes to the JSON of docs/interface.md, Analysis JSON (never NaN or Infinity).

    result = analyze(spec, con)
    json.dump(result.to_json_dict(), fh)
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import re
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pandas as pd

from abkit.decision import Decision, GuardrailCheck, PrimaryEvidence, TextGuardrailCheck, decide
from abkit.errors import AbkitError
from abkit.metrics import METRICS
from abkit.spec import Spec
from abkit.stats.bayes import chance_to_beat
from abkit.stats.compare import compare
from abkit.stats.multiplicity import adjust_pvalues
from abkit.stats.noninferiority import noninferiority, shown_worse
from abkit.stats.power import sample_size_per_arm
from abkit.stats.sequential import sequential
from abkit.stats.srm import srm_test
from abkit.stats.types import SufficientStats, TestResult
from experiments.analysis import queries as q
from experiments.analysis.blocks import analysis_blocks
from experiments.analysis.engines.base import Engine, as_engine

_DIMENSION = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

class AnalysisError(AbkitError):
    """A problem with what was asked of the analysis (e.g. an unknown dimension)."""


# --- running the SQL ----------------------------------------------------------------------

@dataclass
class _Runner:
    """Executes the stage queries on one engine (DuckDB by default), recording each with its wall time."""

    engine: Engine
    log: list[tuple[q.Query, float]] = field(default_factory=list)

    def materialize(self, query: q.Query, name: str) -> None:
        t = time.perf_counter()
        self.engine.materialize(query, name)
        self.log.append((query, time.perf_counter() - t))

    def frame(self, query: q.Query) -> pd.DataFrame:
        t = time.perf_counter()
        df = self.engine.frame(query)
        self.log.append((query, time.perf_counter() - t))
        return df


def build_per_user(spec: Spec, con: duckdb.DuckDBPyConnection, *, as_of: dt.datetime | None = None,
                   dimensions: Sequence[str] = (), attribution: q.Attribution = "join",
                   rel: q.Relations = q.DEFAULT_RELATIONS) -> q.QueryParams:
    """Materialize stages 1 and 2 (temp tables ``rel.seen`` and ``rel.per_user``)."""
    params = q.QueryParams.from_spec(spec, as_of=as_of, dimensions=_dimensions(spec, dimensions),
                                     attribution=attribution)
    runner = _Runner(as_engine(con))
    runner.materialize(q.seen_users(params, rel), rel.seen)
    runner.materialize(q.per_user(params, rel), rel.per_user)
    return params


def per_user_frame(spec: Spec, con: duckdb.DuckDBPyConnection, **kwargs: Any) -> pd.DataFrame:
    """The per-user table as a DataFrame (tests and small exports; analyze never does this)."""
    rel = kwargs.pop("rel", q.DEFAULT_RELATIONS)
    build_per_user(spec, con, rel=rel, **kwargs)
    return con.execute(f"SELECT * FROM {rel.per_user} ORDER BY user_id").df()


def _dimensions(spec: Spec, extra: Sequence[str]) -> tuple[str, ...]:
    dims = tuple(dict.fromkeys([*spec.dimensions, *extra]))
    for d in dims:
        if not _DIMENSION.match(d):
            raise AnalysisError(f"dimension {d!r} is not a column name (letters, digits, _)")
    return dims


# --- result -------------------------------------------------------------------------------

def clean_json(value: Any) -> Any:
    """Plain JSON values: NaN/Infinity → None, numpy scalars → Python, tuples → lists."""
    if isinstance(value, dict):
        return {str(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


@dataclass
class AnalysisResult:
    """Everything `abkit analyze` reports; `data` is the docs/interface.md, Analysis JSON JSON object."""

    data: dict[str, Any]
    queries: list[q.Query] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def decision(self) -> dict[str, Any]:
        return self.data["decision"]

    def to_json_dict(self) -> dict[str, Any]:
        return clean_json(copy.deepcopy(self.data))

    def to_frame(self) -> pd.DataFrame:
        """One row per (metric, arm, baseline): the `metrics` list as a DataFrame."""
        return pd.DataFrame(self.data["metrics"])

    def breakdown_frame(self, dimension: str) -> pd.DataFrame:
        return pd.DataFrame(self.data.get("breakdowns", {}).get(dimension, []))

    def rich_table(self) -> Any:
        """A rich renderable: the metrics table with users, SRM and decision in the caption."""
        return render_table(self.data)


def _fmt(x: Any, spec: str) -> str:
    return "—" if x is None else format(x, spec)


def render_table(data: dict[str, Any]) -> Any:
    """The metrics of one analysis as a rich Table (decision and data checks in the caption)."""
    from rich.table import Table

    users = ", ".join(f"{a} {n:,}" for a, n in data["users"].items())
    srm = data["srm"]
    title = (f"{data['experiment']}: {users}; excluded multi-arm {data['excluded_multi_arm_users']:,}; "
             f"SRM p = {_fmt(srm['p_value'], '.3g')} ({'ok' if srm['ok'] else 'MISMATCH'})")
    d = data["decision"]
    caption = f"decision: {d['action'].upper()}" + (f" ({d['arm']})" if d["arm"] else "")
    caption += "".join(f"\n• {r}" for r in d["reasons"])
    table = Table(title=title, caption=caption, caption_justify="left")
    for col, just in (("metric", "left"), ("arm", "left"), ("vs", "left"), ("family", "left"),
                      ("control", "right"), ("treatment", "right"), ("rel lift", "right"),
                      ("rel CI", "right"), ("p", "right"), ("p adj", "right"), ("CUPED VR", "right"),
                      ("note", "left")):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for r in data["metrics"]:
        sig = r.get("significant")
        style = ("green" if (r["abs_lift"] or 0) > 0 else "red") if sig else None
        ci = (f"[{_fmt(r['rel_ci_low'], '+.2%')}, {_fmt(r['rel_ci_high'], '+.2%')}]"
              if r["rel_ci_low"] is not None else "—")
        table.add_row(r["metric"], r["arm"], r["baseline"], r["family"], _fmt(r["control_value"], ".4g"),
                      _fmt(r["treatment_value"], ".4g"), _fmt(r["rel_lift"], "+.2%"), ci,
                      _fmt(r["p_value"], ".3g"), _fmt(r["p_value_adjusted"], ".3g"),
                      _fmt(r["variance_reduction"], ".0%") if r["cuped"] else "—",
                      (r["warning"] or "")[:60], style=style)
    return table


def render_breakdown(data: dict[str, Any], dimension: str) -> Any:
    """One dimension's breakdown rows as a rich Table (their own correction family)."""
    from rich.table import Table

    table = Table(title=f"breakdown by {dimension} (family breakdown:{dimension})")
    for col in ("value", "metric", "arm", "users", "rel lift", "rel CI", "p", "p adj"):
        table.add_column(col)
    for r in data.get("breakdowns", {}).get(dimension, []):
        ci = (f"[{_fmt(r['rel_ci_low'], '+.2%')}, {_fmt(r['rel_ci_high'], '+.2%')}]"
              if r["rel_ci_low"] is not None else "—")
        users = "/".join(f"{n:,}" for n in r["users"].values())
        table.add_row(str(r["value"]), r["metric"], r["arm"], users, _fmt(r["rel_lift"], "+.2%"), ci,
                      _fmt(r["p_value"], ".3g"), _fmt(r["p_value_adjusted"], ".3g"))
    return table


# --- statistics ---------------------------------------------------------------------------

def _stats_frame_to_dict(df: pd.DataFrame, layout: q.StatsLayout, key_cols: Sequence[str]
                         ) -> dict[tuple, dict[str, SufficientStats]]:
    out: dict[tuple, dict[str, SufficientStats]] = {}
    for rec in df.to_dict("records"):
        key = tuple(None if isinstance(rec[c], float) and math.isnan(rec[c]) else rec[c] for c in key_cols)
        out[key] = {
            m: SufficientStats(n=int(rec["n"]), **{f: float(rec[a] or 0.0) for f, a in fields.items()})
            for m, fields in layout.fields.items()
        }
    return out


def _empty_stats(layout: q.StatsLayout) -> dict[str, SufficientStats]:
    return {m: SufficientStats(n=0, **{f: 0.0 for f in fields}) for m, fields in layout.fields.items()}


def _row(metric: str, arm: str, baseline: str, family: str, r: TestResult, spec: Spec,
         n_pair: int) -> dict[str, Any]:
    m = METRICS[metric]
    ctb, loss = chance_to_beat(r, higher_is_better=m.higher_is_better)
    row: dict[str, Any] = {
        "metric": metric, "arm": arm, "baseline": baseline, "family": family,
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


def _adjust(rows: list[dict[str, Any]], method: str, alpha: float) -> None:
    """Multiple testing within each row's family (docs/interface.md, Metrics); flags CI/significance disagreement."""
    families: dict[str, list[dict[str, Any]]] = {}
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


def _family(spec: Spec, metric: str) -> str:
    if metric == spec.primary_metric:
        return "primary"
    if metric in spec.secondary:
        return "secondary"
    if metric in {g.metric for g in spec.guardrails}:
        return "guardrail"
    return "other"


def _compare_pairs(spec: Spec, by_arm: dict[str, dict[str, SufficientStats]], metrics: Sequence[str],
                   pairs: Sequence[tuple[str, str]], family: Any) -> tuple[list[dict[str, Any]], dict]:
    rows, results = [], {}
    for arm, base in pairs:
        for metric in metrics:
            c, t = by_arm[base][metric], by_arm[arm][metric]
            use_cuped = spec.cuped and METRICS[metric].covariate is not None
            r = compare(c, t, alpha=spec.alpha, cuped=use_cuped)
            results[(metric, arm, base)] = r
            rows.append(_row(metric, arm, base, family(metric, arm, base), r, spec, c.n + t.n))
    return rows, results


# --- planned sample -----------------------------------------------------------------------

def planned_users_per_arm(spec: Spec, control: SufficientStats) -> tuple[int | None, str]:
    """From the spec when given, else from its MDE and power with the control arm's variance."""
    if spec.planned_users_per_arm is not None:
        return spec.planned_users_per_arm, "spec planned_users_per_arm"
    if spec.mde is None:
        return None, "no mde or planned_users_per_arm in the spec"
    kind = METRICS[spec.primary_metric].kind
    try:
        n = sample_size_per_arm(kind, None, spec.mde, alpha=spec.alpha, power=spec.power, historical=control)
    except ValueError as exc:
        return None, f"cannot size the test from the control arm: {exc}"
    return int(math.ceil(n)), (f"mde {spec.mde:g} at power {spec.power:g}, alpha {spec.alpha:g}, "
                               f"variance of the control arm ({kind})")


# --- text metrics -------------------------------------------------------------------------

def _diversity(spec: Spec, engine: Engine, runner: _Runner, params: q.QueryParams,
               rel: q.Relations, notes: list[str]) -> dict[str, dict[str, Any]]:
    try:
        from abkit.text.arm_metrics import arm_text_metrics
    except ImportError:
        notes.append("Text metrics are unavailable (abkit.text.arm_text_metrics is missing); "
                     "diversity is empty.")
        warnings.warn("abkit.text.arm_text_metrics is missing; diversity left empty", stacklevel=2)
        return {}
    pairs = runner.frame(q.exposed_texts(params, rel))
    if pairs.empty:
        return {}
    engine.register("abkit_exposed_items", pairs[["item_id"]].drop_duplicates().reset_index(drop=True))
    try:
        items = engine.frame(q.Query("exposed_items", f"""
            SELECT i.item_id, min(i.category) AS category, min(i.brand) AS brand, min(i.title) AS title,
                   min(i.price) AS price, min(i.discount) AS discount, min(CAST(i.attributes AS STRING)) AS attributes
            FROM {rel.items} i JOIN abkit_exposed_items e ON e.item_id = i.item_id
            GROUP BY i.item_id"""))
    finally:
        engine.drop("abkit_exposed_items")
    counts = pairs.groupby("arm")["text"].nunique()
    sample_n = int(counts.min()) if len(counts) else None
    out: dict[str, dict[str, Any]] = {}
    for arm in spec.arm_names:
        arm_pairs = pairs[pairs["arm"] == arm]
        if arm_pairs.empty:
            continue
        out[arm] = dict(arm_text_metrics(arm_pairs[["item_id", "text", "segment", "exposures"]].reset_index(drop=True),
                                         items, seed=spec.key, sample_n=sample_n))
    return out


_OPS = {"<=": lambda a, b: a <= b, "<": lambda a, b: a < b, ">=": lambda a, b: a >= b,
        ">": lambda a, b: a > b, "==": lambda a, b: math.isclose(a, b, abs_tol=1e-12)}


def text_guardrail_checks(spec: Spec, diversity: dict[str, dict[str, Any]]) -> list[TextGuardrailCheck]:
    """Evaluate spec.text_guardrails on every treatment arm ('control' compares with the control arm,
    allowing `tolerance` in the guardrail's direction)."""
    checks = []
    for g in spec.text_guardrails:
        for arm in spec.treatment_arms:
            value = diversity.get(arm, {}).get(g.metric)
            if g.value == "control":
                ref = diversity.get(spec.control_arm, {}).get(g.metric)
                slack = g.tolerance if g.op in ("<=", "<") else -g.tolerance
                target = None if ref is None else ref + slack
                rule = f"{g.metric} {g.op} control ({'n/a' if ref is None else f'{ref:.4g}'})"
            else:
                target, rule = float(g.value), f"{g.metric} {g.op} {g.value:g}"
            passed = None if value is None or target is None else bool(_OPS[g.op](float(value), target))
            checks.append(TextGuardrailCheck(arm, rule, None if value is None else float(value), passed))
    return checks


# --- the analysis -------------------------------------------------------------------------

def analyze(spec: Spec, con: duckdb.DuckDBPyConnection | Engine, *, as_of: dt.datetime | None = None,
            dimensions: Sequence[str] = (), text_metrics: bool = True, attribution: q.Attribution = "join",
            rel: q.Relations = q.DEFAULT_RELATIONS, keep_tables: bool = False) -> AnalysisResult:
    """Run the whole analysis of docs/interface.md (Metrics, Analysis JSON) on one warehouse connection (or any Engine,
    e.g. experiments.analysis.engines.SparkEngine, with ``rel`` naming its relations)."""
    t_start = time.perf_counter()
    if as_of is not None and as_of.tzinfo is not None:
        as_of = as_of.astimezone(dt.UTC).replace(tzinfo=None)
    notes: list[str] = []
    engine = as_engine(con)
    runner = _Runner(engine)
    params = q.QueryParams.from_spec(spec, as_of=as_of, dimensions=_dimensions(spec, dimensions),
                                     attribution=attribution)
    try:
        runner.materialize(q.seen_users(params, rel), rel.seen)
        runner.materialize(q.per_user(params, rel), rel.per_user)
        counts = runner.frame(q.arm_counts(params, rel))
        multi = int(runner.frame(q.multi_arm_users(rel)).iloc[0, 0])
        metrics = spec.all_metrics
        caps: dict[str, float] = {}
        if spec.winsorize:
            cols = sorted({METRICS[m].numerator for m in metrics
                           if METRICS[m].kind == "mean" and METRICS[m].numerator in q.WINSORIZABLE})
            if cols:
                capped = runner.frame(q.winsorize_caps(cols, spec.winsorize, rel)).iloc[0]
                caps = {c: float(capped[c]) for c in cols if pd.notna(capped[c])}
        layout = q.stats_layout(metrics, caps)
        overall = runner.frame(q.arm_stats(layout, rel=rel))
        breakdown_frames = {name: runner.frame(q.arm_stats(layout, dimension=i, rel=rel))
                            for i, name in enumerate(params.dimensions)}
        for name, frame in breakdown_frames.items():
            if not frame.empty and frame.iloc[:, 1].isna().all():
                raise AnalysisError(f"dimension {name!r} was not found: no exposure has an extra column "
                                    f"{name!r} and the users table has no such value")
        diversity = _diversity(spec, engine, runner, params, rel, notes) if text_metrics else {}
        # daily / text_features / samples for the report; a failing block becomes a note
        blocks = analysis_blocks(spec, engine, params, rel, notes, text_metrics=text_metrics, log=runner.log)
    finally:
        if not keep_tables:
            for name in (rel.per_user, rel.seen):
                engine.drop(name)
    t_sql = time.perf_counter() - t_start

    arms = spec.arm_names
    by_arm_raw = _stats_frame_to_dict(overall, layout, ["arm"])
    by_arm = {a: by_arm_raw.get((a,), _empty_stats(layout)) for a in arms}
    users = {a: by_arm[a][spec.primary_metric].n for a in arms}
    open_windows = {a: int(r["open_window_users"] or 0) for a in arms
                    for r in overall[overall["arm"] == a].to_dict("records")}
    srm = srm_test([users[a] for a in arms], spec.weights)
    cnt = counts.set_index("arm")
    known = set(arms)
    unknown = {str(a): int(cnt.loc[a, "exposures"]) for a in cnt.index if a not in known}

    # Metrics rows: every metric for every treatment arm vs control, then spec comparisons.
    vs_control = [(a, spec.control_arm) for a in spec.treatment_arms]
    rows, results = _compare_pairs(spec, by_arm, metrics, vs_control, lambda m, a, b: _family(spec, m))
    if spec.comparisons:
        more, more_results = _compare_pairs(spec, by_arm, metrics, spec.comparisons,
                                            lambda m, a, b: f"comparison:{_family(spec, m)}")
        rows += more
        results.update(more_results)
    _adjust(rows, spec.correction, spec.alpha)

    # Guardrails: one-sided non-inferiority of each guardrail metric per treatment arm.
    guard_rows, guard_checks = [], []
    for g in spec.guardrails:
        hib = METRICS[g.metric].higher_is_better
        for arm in spec.treatment_arms:
            r = results[(g.metric, arm, spec.control_arm)]
            ni = noninferiority(r, g.margin, alpha=spec.alpha, higher_is_better=hib)
            worse = shown_worse(r, g.margin, spec.alpha, hib)
            guard_checks.append(GuardrailCheck(g.metric, arm, g.margin, ni.passed, worse, ni.bound, r.rel_lift))
            guard_rows.append({"metric": g.metric, "arm": arm, "baseline": spec.control_arm, "margin": g.margin,
                               "rel_lift": r.rel_lift, "bound": ni.bound, "p_value": ni.p_value,
                               "non_inferior": ni.passed, "shown_worse": worse,
                               "warning": ni.inconclusive_reason})

    # Breakdowns: primary and secondary metrics per dimension value, one family per dimension.
    breakdowns: dict[str, list[dict[str, Any]]] = {}
    for i, (name, frame) in enumerate(breakdown_frames.items()):
        col = f"dim_{i}"
        stats = _stats_frame_to_dict(frame, layout, ["arm", col])
        values = sorted({k[1] for k in stats if k[0] in known}, key=lambda v: (v is None, str(v)))
        dim_rows: list[dict[str, Any]] = []
        for v in values:
            sub = {a: stats.get((a, v), _empty_stats(layout)) for a in arms}
            rws, _ = _compare_pairs(spec, sub, [spec.primary_metric, *spec.secondary], vs_control,
                                    lambda m, a, b, name=name: f"breakdown:{name}")
            for r in rws:
                r.update(dimension=name, value=v, users={a: sub[a][spec.primary_metric].n for a in arms})
            dim_rows += rws
        _adjust(dim_rows, spec.correction, spec.alpha)
        breakdowns[name] = dim_rows

    text_checks = text_guardrail_checks(spec, diversity)
    if spec.text_guardrails and not diversity:
        notes.append("Text guardrails could not be evaluated: no exposed texts joined to the reasons table.")
    planned, planned_source = planned_users_per_arm(spec, by_arm[spec.control_arm][spec.primary_metric])

    seq = spec.sequential.enabled
    p_key = "seq_p_value_adjusted" if seq else "p_value_adjusted"
    primary_rows = [r for r in rows if r["metric"] == spec.primary_metric and r["baseline"] == spec.control_arm]
    decision: Decision = decide(
        primary_metric=spec.primary_metric,
        primary=[PrimaryEvidence(r["arm"], r[p_key], r["rel_lift"],
                                 r["seq_rel_ci_low"] if seq else r["rel_ci_low"],
                                 r["seq_rel_ci_high"] if seq else r["rel_ci_high"],
                                 r["abs_lift"], r["warning"]) for r in primary_rows],
        alpha=spec.alpha, srm_ok=srm.ok, srm_p_value=srm.p_value, users=users,
        text_checks=text_checks, guardrails=guard_checks, planned_users_per_arm=planned,
        sequential=seq, higher_is_better=METRICS[spec.primary_metric].higher_is_better,
        p_label="sequential adjusted p" if seq else "adjusted p",
    )
    start, end = spec.window_utc()
    data: dict[str, Any] = {
        "experiment": spec.key,
        "control": spec.control_arm,
        "window_utc": [start, end],
        "as_of": as_of,
        "computed_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
        "users": users,
        "excluded_multi_arm_users": multi,
        "excluded_bot_users": int(counts["bot_users"].fillna(0).sum()) if not counts.empty else 0,
        "users_before_exclusion": {a: int(cnt.loc[a, "users"]) if a in cnt.index else 0 for a in arms},
        "exposures_before_exclusion": {a: int(cnt.loc[a, "exposures"]) if a in cnt.index else 0 for a in arms},
        "unknown_arm_exposures": sum(unknown.values()),
        "unknown_arms": unknown,
        "open_window_users": open_windows if as_of is not None else {},
        "srm": {"p_value": srm.p_value, "ok": srm.ok, "chi2": srm.chi2, "expected": srm.expected},
        "alpha": spec.alpha,
        "correction": spec.correction,
        "sequential": seq,
        "planned_users_per_arm": planned,
        "planned_users_source": planned_source,
        "sample_reached": None if planned is None else min(users.values()) >= planned,
        "winsorize_caps": caps,
        "metrics": rows,
        "guardrails": guard_rows,
        "breakdowns": breakdowns,
        "diversity": diversity,
        "text_guardrails": [{"arm": c.arm, "rule": c.rule, "value": c.value, "passed": c.passed}
                            for c in text_checks],
        "decision": decision.to_dict(),
        "notes": notes,
        **blocks,
    }
    if as_of is not None and sum(open_windows.values()):
        notes.append(f"As of {as_of:%Y-%m-%d %H:%M} UTC, {sum(open_windows.values()):,} users still had open "
                     f"attribution windows; their outcomes may still grow.")
    timings = {"sql_s": t_sql, "total_s": time.perf_counter() - t_start}
    return AnalysisResult(clean_json(data), [qq for qq, _ in runner.log], timings)


def analysis_sql(spec: Spec, *, as_of: dt.datetime | None = None, dimensions: Sequence[str] = (),
                 attribution: q.Attribution = "join") -> str:
    """Every statement `analyze` runs, with bound values listed (for `--show-sql`)."""
    params = q.QueryParams.from_spec(spec, as_of=as_of, dimensions=_dimensions(spec, dimensions),
                                     attribution=attribution)
    layout = q.stats_layout(spec.all_metrics)
    return "\n".join(x.show() for x in q.all_queries(params, layout))


def store_result(con: duckdb.DuckDBPyConnection, result: AnalysisResult) -> None:
    """Append the result with its timestamp to the `results` table (reports show the history)."""
    import json

    d = result.to_json_dict()
    as_of = result.data.get("as_of")
    con.execute("INSERT INTO results (experiment, computed_at, as_of, result) VALUES (?, ?, ?, ?)",
                [d["experiment"], dt.datetime.now(dt.UTC).replace(tzinfo=None),
                 dt.datetime.strptime(as_of, "%Y-%m-%dT%H:%M:%SZ") if as_of else None,
                 json.dumps(d, ensure_ascii=False, allow_nan=False)])

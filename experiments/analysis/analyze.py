"""`analyze`: raw logs → per-user rows → per-arm sufficient statistics → tests → decision.

The heavy lifting stays in the engine (experiments/analysis/sql/, rendered by
experiments/analysis/queries.py); only per-arm (× dimension) sums come back to Python, where the
stats engine (abkit/stats) compares arms and abkit/decision.py applies the decision policy. Each
step is its own module: stages.py (SQL), rows.py (metric rows), guardrails.py, breakdowns.py,
text_metrics.py, blocks.py (daily, text features, samples), planning.py, health.py. The result is
an :class:`abkit.result.AnalysisResult` whose JSON is docs/interface.md, Analysis JSON.

    result = analyze(spec, con)
    result.to_frame()
    json.dump(result.to_json(), fh)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import duckdb

from abkit.decision import Decision, GuardrailCheck, PairEvidence, PrimaryEvidence, TextGuardrailCheck, decide
from abkit.metrics import METRICS
from abkit.planning import tuning_n
from abkit.result import AnalysisResult
from abkit.spec import Spec
from abkit.stats.srm import srm_test
from abkit.warehouse import shipped_at
from experiments.analysis import queries as q
from experiments.analysis.balance import balance_block
from experiments.analysis.blocks import Block, analysis_blocks
from experiments.analysis.breakdowns import breakdowns
from experiments.analysis.cumulative import cumulative_block
from experiments.analysis.engines.base import Engine
from experiments.analysis.engines.duckdb_engine import as_engine
from experiments.analysis.engines.timed import QueryLog, TimedEngine
from experiments.analysis.for_whom import explorer_blocks, interaction_block, regression_sums
from experiments.analysis.guardrails import metric_guardrails, text_guardrail_checks, text_guardrail_rows
from experiments.analysis.health import health_block
from experiments.analysis.incremental import Refresh, State, StateMode, per_user_tables
from experiments.analysis.keyed import drop_keyed_views, keyed_relations
from experiments.analysis.planning import ExperimentPlan, days_to_go, experiment_plan, planning_block
from experiments.analysis.rows import CrossSums, Row, empty_stats, metric_rows, stats_by_key
from experiments.analysis.stages import (
    AnalysisError,
    StageFrames,
    drop_per_user,
    query_params,
    stage_frames,
)
from experiments.analysis.text_work import TextWork, start_text_work

__all__ = ["AnalysisError", "analysis_sql", "analyze", "clean_json"]


def clean_json(value: Any) -> Any:
    """Plain JSON values: NaN/Infinity → None, numpy scalars → Python, tuples → lists, datetimes → ISO UTC."""
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


def _decision(spec: Spec, rows: list[Row], users: dict[str, int], srm_ok: bool, srm_p: float | None,
              text_checks: list[TextGuardrailCheck], guard_checks: list[GuardrailCheck], planned: int | None,
              days: dict[str, int | None]) -> Decision:
    """The decision policy over the primary rows vs control and the treatment-vs-treatment comparisons
    (sequential p and CIs when the spec asks)."""
    seq = spec.sequential.enabled
    control = spec.control_arm
    primary = [r for r in rows if r["metric"] == spec.primary_metric]
    return decide(
        primary_metric=spec.primary_metric,
        primary=[PrimaryEvidence.from_row(r, sequential=seq) for r in primary if r["baseline"] == control],
        alpha=spec.alpha, srm_ok=srm_ok, srm_p_value=srm_p, users=users,
        text_checks=text_checks, guardrails=guard_checks, planned_users_per_arm=planned,
        sequential=seq, higher_is_better=METRICS[spec.primary_metric].higher_is_better,
        p_label="sequential adjusted p" if seq else "adjusted p", control=control,
        comparisons=[PairEvidence.from_row(r, sequential=seq) for r in primary if r["baseline"] != control],
        days_to_go=days,
    )


def _result_data(spec: Spec, frames: StageFrames, diversity: dict[str, dict[str, Any]], blocks: dict[str, Any],
                 notes: list[str], as_of: dt.datetime | None, window_end: dt.datetime,
                 plan: ExperimentPlan, cross: CrossSums | None = None) -> dict[str, Any]:
    """The statistics over the stage frames, as the analysis JSON object (before clean_json)."""
    arms = spec.arm_names
    by_arm_raw = stats_by_key(frames.overall, frames.layout, ["arm"])
    by_arm = {a: by_arm_raw.get((a,), empty_stats(frames.layout)) for a in arms}
    users = {a: by_arm[a][spec.primary_metric].n for a in arms}
    overall = frames.overall
    open_windows = {a: int(r["open_window_users"] or 0) for a in arms
                    for r in overall[overall["arm"] == a].to_dict("records")}
    srm = srm_test([users[a] for a in arms], spec.weights)
    counts = frames.counts
    cnt = counts.set_index("arm")
    unknown = {str(a): int(cnt.loc[a, "exposures"]) for a in cnt.index if a not in set(arms)}

    planned = plan.planned
    n_star = tuning_n(spec, planned)
    rows, results = metric_rows(spec, by_arm, cross, tuning_n=n_star)
    guard_rows, guard_checks = metric_guardrails(spec, results, tuning_n=n_star)
    text_checks = text_guardrail_checks(spec, diversity)
    if spec.text_guardrails and not diversity:
        notes.append("Text guardrails could not be evaluated: no exposed texts joined to the reasons table.")
    if plan.warning:
        notes.append(plan.warning)
    days = days_to_go(spec, blocks.get("daily", []), planned)
    decision = _decision(spec, rows, users, srm.ok, srm.p_value, text_checks, guard_checks, planned, days)
    start, _ = spec.window_utc()
    data: dict[str, Any] = {
        "experiment": spec.key,
        "control": spec.control_arm,
        "window_utc": [start, window_end],
        "as_of": as_of,
        "computed_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
        "users": users,
        "excluded_multi_arm_users": frames.multi_arm_users,
        "excluded_bot_users": int(counts["bot_users"].fillna(0).sum()) if not counts.empty else 0,
        "users_before_exclusion": {a: int(cnt.loc[a, "users"]) if a in cnt.index else 0 for a in arms},
        "exposures_before_exclusion": {a: int(cnt.loc[a, "exposures"]) if a in cnt.index else 0 for a in arms},
        "unknown_arm_exposures": sum(unknown.values()),
        "unknown_arms": unknown,
        "open_window_users": open_windows if as_of is not None else {},
        "srm": {"p_value": srm.p_value, "ok": srm.ok, "chi2": srm.chi2, "expected": srm.expected},
        "alpha": spec.alpha,
        "correction": spec.correction,
        "sequential": spec.sequential.enabled,
        "planned_users_per_arm": planned,
        "planned_users_source": plan.source,
        "tuning_n": n_star if spec.sequential.enabled else None,
        "sample_reached": None if planned is None else min(users.values()) >= planned,
        "winsorize_caps": frames.caps,
        "metrics": rows,
        "guardrails": guard_rows,
        "breakdowns": breakdowns(spec, frames.by_dimension, frames.layout, notes, tuning_n=n_star),
        "balance": balance_block(spec, by_arm, frames.by_dimension, frames.layout, notes),
        "diversity": diversity,
        "text_guardrails": text_guardrail_rows(text_checks),
        "decision": decision.to_dict(),
        "notes": notes,
        **blocks,
    }
    planning = planning_block(spec, rows, users, plan, days)
    if planning is not None:
        data["planning"] = planning
    still_open: int = sum(open_windows.values())
    if as_of is not None and still_open:
        notes.append(f"As of {as_of:%Y-%m-%d %H:%M} UTC, {still_open:,} users still had open "
                     f"attribution windows; their outcomes may still grow.")
    return data


def analyze(spec: Spec, con: duckdb.DuckDBPyConnection | Engine, *, as_of: dt.datetime | None = None,
            dimensions: Sequence[str] = (), text_metrics: bool = True, attribution: q.Attribution = "join",
            rel: q.Relations = q.DEFAULT_RELATIONS, keep_tables: bool = False,
            query_log: QueryLog | None = None, as_of_ingested: bool = True,
            plan: ExperimentPlan | None = None, timings: dict[str, float] | None = None,
            state: StateMode = "off", state_log: list[Refresh] | None = None,
            user_keys: bool = True) -> AnalysisResult:
    """Run the whole analysis of docs/interface.md (Metrics, Analysis JSON) on one warehouse connection
    (which also fills the ``health`` block) or any Engine (e.g. experiments.analysis.engines.SparkEngine,
    with ``rel`` naming its relations). ``query_log`` receives (query, seconds) of every statement.
    ``as_of`` is what was known then: events before it and ingested by then (``as_of_ingested=False``
    cuts by event time only, e.g. replaying a finished experiment day by day). ``plan`` replaces the
    plan sized from the warehouse's history (e.g. the demo's pilot plan). ``timings`` receives the wall
    seconds of each block (per_user, arm_sums, text_metrics, daily, ...; `abkit analyze --timings`).
    ``state="auto"`` keeps the per-user state in the DuckDB warehouse and refreshes it from the rows
    ingested since the last analysis (experiments/analysis/incremental.py; same result); ``state_log``
    receives what it did. ``user_keys``: group and join on the warehouse's integer user keys where
    every row has one (experiments/analysis/keyed.py; same result, faster; the incremental state then
    holds keys too); the stage tables then hold keys, so ``keep_tables`` analyses stay on the string ids."""
    if as_of is not None and as_of.tzinfo is not None:
        as_of = as_of.astimezone(dt.UTC).replace(tzinfo=None)
    notes: list[str] = []
    engine = TimedEngine(as_engine(con), query_log if query_log is not None else [])
    params = query_params(spec, as_of=as_of, dimensions_=dimensions, attribution=attribution,
                          as_of_ingested=as_of_ingested)
    shipped = shipped_at(con, spec.key) if isinstance(con, duckdb.DuckDBPyConnection) else None
    if shipped is not None and shipped < params.window_end:
        # after a ship every covered user sees the shipped arm: no comparison, so the window ends there
        params = dataclasses.replace(params, window_end=shipped)
        notes.append(f"The analysis window ends at the ship ({shipped:%Y-%m-%d %H:%M} UTC), before the spec's end: "
                     "exposures after it show the shipped arm to everyone covered and are not analysed.")
    timed = engine.block
    stored: State | None = None
    keyed: q.Relations | None = None
    if user_keys and not keep_tables and isinstance(con, duckdb.DuckDBPyConnection):
        with timed("user_keys"):
            keyed = keyed_relations(con, rel)
    rel = keyed or rel
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="abkit-text")
    texts: TextWork | None = None
    try:
        with timed("per_user"):
            stored = per_user_tables(spec, con, engine, params, rel, texts=text_metrics, state=state, log=state_log)
        if text_metrics:  # the text blocks' Python runs beside the SQL below (text_work.py)
            with timed("text_metrics"):
                texts = (stored.start_text_work(spec, engine, params, pool) if stored else
                         start_text_work(spec, engine, params, rel, pool))
        with timed("arm_sums"):
            frames = stage_frames(spec, engine, params, rel)
        with timed("plan"):
            plan = plan or experiment_plan(spec, engine, rel)
        with timed("cumulative"):
            cumulative = cumulative_block(spec, engine, params, rel, tuning_n(spec, plan.planned))
        later: list[str] = []  # these blocks' notes come after analysis_blocks' (the order of the result)
        with timed("regression"):
            cross = regression_sums(spec, engine, rel, frames.caps, later)
        with timed("explorer"):
            explorer = explorer_blocks(spec, engine, rel, later)
        with timed("interactions"):
            concurrent = interaction_block(spec, engine, params, stored.interaction_relations() if stored else rel,
                                           later)
        with timed("text_metrics"):
            diversity = texts.diversity.result() if texts else {}
        overrides: dict[str, Block] = {
            **(stored.block_overrides() if stored else {}),
            **({"text_features": texts.features_block, "samples": texts.samples_block} if texts else {})}
        blocks = analysis_blocks(spec, engine, params, rel, notes, text_metrics=text_metrics, overrides=overrides)
        blocks["cumulative"] = cumulative
        blocks.update(explorer)
        notes += later
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if texts is not None:
            texts.drop(engine)
        if not keep_tables:
            drop_per_user(engine, rel)
        if stored is not None:
            stored.drop_views(engine)
        if keyed is not None:
            drop_keyed_views(con)  # type: ignore[arg-type]  # keyed only on a DuckDB connection
    with timed("stats"):
        data = _result_data(spec, frames, diversity, blocks, notes, as_of, params.window_end, plan, cross)
    if isinstance(con, duckdb.DuckDBPyConnection):
        with timed("health"):
            data["health"] = health_block(con, spec)
    if concurrent:
        data.setdefault("health", {})["interactions"] = concurrent
    if timings is not None:
        timings.update(engine.blocks)
    return AnalysisResult.from_json(clean_json(data))


def analysis_sql(spec: Spec, *, as_of: dt.datetime | None = None, dimensions: Sequence[str] = (),
                 attribution: q.Attribution = "join") -> str:
    """Every statement `analyze` runs, with bound values listed (for `--show-sql`)."""
    params = query_params(spec, as_of=as_of, dimensions_=dimensions, attribution=attribution)
    layout = q.stats_layout(spec.all_metrics)
    return "\n".join(x.show() for x in q.all_queries(params, layout))

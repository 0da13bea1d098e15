"""Guarded ramps (``abkit rollout``): one idempotent step a scheduler can call.

Each call reads the spec's plan (``rollout: {steps, min_days, min_users_per_arm}``) and the
stored current coverage (serving.coverage), runs the analysis, and then

* **rolls back** to coverage 0 when a guardrail is shown worse than its margin or the arm split
  fails the SRM test (at any step, as soon as the data show it);
* **advances** to the next step once the current one has run ``min_days`` (counted from the
  step or the window start, whichever is later) with ``min_users_per_arm`` users in every arm;
* otherwise **holds** and writes nothing — so calling it twice changes nothing more.

Every change is one ``coverage_steps`` row (who, when, why) and one lifecycle row
(``lifecycle``; the note holds the step as JSON). The weights are fixed within a phase:
raising coverage never moves an enrolled user, changing weights does, so a weight change needs
a new ``hash_seed``, which starts a new phase at the first step.

A **shipped** arm (serving.ship) is ramped through the same steps, but there is no control inside
a ship phase to compare against, so neither the guardrails nor the SRM test apply: a ship step
advances once it ran ``min_days`` and ``min_users_per_arm`` users saw the shipped arm since the
step began; a harmed ship is rolled back by a person (the web app's roll back action).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from typing import Any

import duckdb

from abkit.errors import AbkitError
from abkit.spec import Spec
from abkit.warehouse import experiment_state, has_table, set_experiment_state, transaction
from serving.coverage import CoverageStep, current_coverage, record_coverage


class RolloutError(AbkitError):
    """The ramp cannot take a step (no plan, weights changed within a phase)."""


@dataclass(frozen=True)
class AnalysisSignals:
    """What a ramp decision needs from the analysis."""

    users: dict[str, int]
    srm_ok: bool
    srm_p_value: float | None
    guardrails_worse: list[str]  # "metric (arm)" shown worse than its margin
    decision: str | None


def analysis_signals(spec: Spec, con: duckdb.DuckDBPyConnection) -> AnalysisSignals:
    """The one place that reads the analysis result (so a typed result needs one change here).

    The analysis reads every row ingested so far (``--now`` times the ramp, it does not replay
    what was known then)."""
    from experiments.analysis.analyze import analyze

    result = analyze(spec, con)
    worse = [f"{g.metric} ({g.arm})" for g in result.guardrails if g.shown_worse]
    return AnalysisSignals(users={a: int(n) for a, n in result.users.items()},
                           srm_ok=result.srm.ok is not False, srm_p_value=result.srm.p_value,
                           guardrails_worse=worse, decision=result.decision.action)


@dataclass
class RolloutStep:
    experiment: str
    action: str  # start, advance, hold, rollback
    coverage_before: float | None
    coverage_after: float | None
    phase: int
    reason: str
    actor: str
    at: dt.datetime
    dry_run: bool
    signals: dict[str, Any] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return self.action in ("start", "advance", "rollback")

    def line(self) -> str:
        def pct(x: float | None) -> str:
            return "—" if x is None else f"{x:.0%}" if x * 100 == int(x * 100) else f"{x:.2%}"

        cov = pct(self.coverage_before) if not self.changed else f"{pct(self.coverage_before)} → {pct(self.coverage_after)}"
        dry = " (dry run: nothing recorded)" if self.dry_run and self.changed else ""
        return f"{self.experiment}: {self.action} — coverage {cov}, phase {self.phase}: {self.reason}{dry}"


def _last_weights(con: duckdb.DuckDBPyConnection, experiment: str, seed: str) -> list[float] | None:
    """The weights recorded by the latest rollout step of this seed (lifecycle note), if any."""
    if not has_table(con, "lifecycle"):
        return None
    rows = con.execute(
        "SELECT note FROM lifecycle WHERE experiment = ? AND note LIKE '{%' ORDER BY changed_at DESC, rowid DESC",
        [experiment]).fetchall()
    for (note,) in rows:
        try:
            data = json.loads(note)
        except ValueError:
            continue
        if isinstance(data, dict) and data.get("source") == "rollout" and data.get("hash_seed") == seed:
            return [float(w) for w in data.get("weights", [])]
    return None


def _fmt_days(td: dt.timedelta) -> str:
    return f"{td.total_seconds() / 86400:.2f} d"


def rollout_step(spec: Spec, con: duckdb.DuckDBPyConnection, *, now: dt.datetime, actor: str,
                 dry_run: bool = False) -> RolloutStep:
    """Take one step of the spec's ramp at time ``now`` (naive UTC)."""
    plan = spec.rollout
    if plan is None:
        raise RolloutError(f"{spec.key}: the spec has no rollout plan (add rollout: {{steps: [0.05, 0.25, 0.5, 1.0]}})")
    current = current_coverage(con, spec.key)
    shipping = current is not None and current.shipped_arm is not None
    if shipping and current is not None and current.hash_seed not in (None, spec.seed):
        raise RolloutError(f"{spec.key}: arm {current.shipped_arm} was shipped under hash_seed {current.hash_seed!r}; "
                           "changing the seed would move shipped users — restore it")
    same_phase = current is not None and current.hash_seed in (None, spec.seed)
    phase = (current.phase if same_phase else current.phase + 1) if current is not None else 1
    weights = _last_weights(con, spec.key, spec.seed)
    if same_phase and weights is not None and [round(w, 9) for w in weights] != [round(w, 9) for w in spec.weights]:
        raise RolloutError(f"{spec.key}: arm weights changed from {weights} to {spec.weights} within phase {phase}; "
                           "that moves enrolled users — set a new hash_seed to start a new phase")

    def step(action: str, after: float | None, reason: str, signals: dict[str, Any] | None = None) -> RolloutStep:
        before = current.coverage if same_phase and current is not None else None
        out = RolloutStep(spec.key, action, before, after, phase, reason, actor, now, dry_run, signals or {})
        if out.changed and not dry_run:
            _record(con, spec, out)
        return out

    if shipping:
        assert current is not None
        return _ship_step(spec, con, current, now, step)
    if not same_phase:
        why = "ramp starts" if current is None else f"new phase (hash_seed {spec.seed!r}), ramp restarts"
        return step("start", plan.steps[0], f"{why} at the first step")
    assert current is not None
    if current.coverage == 0:
        return step("hold", None, f"rolled back at {current.step_at:%Y-%m-%d %H:%M} ({current.reason}); "
                                  "a new phase (new hash_seed) is needed to ramp again")
    start, end = spec.window_utc()
    if now < start:
        return step("hold", None, f"the experiment starts {start:%Y-%m-%d %H:%M} UTC")
    try:
        sig = analysis_signals(spec, con)
    except AbkitError as exc:
        return step("hold", None, f"no analysis yet ({exc})")
    signals = asdict(sig)
    if sig.guardrails_worse or not sig.srm_ok:
        problems = [f"guardrail shown worse: {', '.join(sig.guardrails_worse)}"] if sig.guardrails_worse else []
        if not sig.srm_ok:
            problems.append(f"sample ratio mismatch (p = {sig.srm_p_value:.2g})")
        return step("rollback", 0.0, "; ".join(problems), signals)
    held = now - max(current.step_at, start)
    fewest = min((sig.users.get(a, 0) for a in spec.arm_names), default=0)
    higher = [s for s in plan.steps if s > current.coverage + 1e-12]
    if not higher:
        return step("hold", None, "ramp complete; guardrails and SRM still fine", signals)
    if now >= end:
        return step("hold", None, f"the window ended {end:%Y-%m-%d %H:%M} UTC", signals)
    waiting = []
    if held < dt.timedelta(days=plan.min_days):
        waiting.append(f"{_fmt_days(held)} of {plan.min_days:g} d at this step")
    if fewest < plan.min_users_per_arm:
        waiting.append(f"{fewest:,} of {plan.min_users_per_arm:,} users in the smallest arm")
    if waiting:
        return step("hold", None, "waiting: " + "; ".join(waiting), signals)
    return step("advance", higher[0], f"{_fmt_days(held)} at this step, ≥ {fewest:,} users per arm, "
                                      "no guardrail shown worse, no SRM", signals)


def _exposed_users(con: duckdb.DuckDBPyConnection, experiment: str, arm: str, since: dt.datetime,
                   until: dt.datetime) -> int:
    row = con.execute("SELECT count(DISTINCT user_id) FROM exposures WHERE experiment = ? AND arm = ? "
                      "AND ts >= ? AND ts < ?", [experiment, arm, since, until]).fetchone()
    return int(row[0]) if row else 0


def _ship_step(spec: Spec, con: duckdb.DuckDBPyConnection, current: CoverageStep, now: dt.datetime,
               step: Any) -> RolloutStep:
    """A step of a shipped arm's ramp: on time and users alone (no control to compare against)."""
    plan = spec.rollout
    assert plan is not None and current.shipped_arm is not None
    arm = current.shipped_arm
    state = experiment_state(con, spec.key)
    if state != "shipped":
        return step("hold", None, f"the ship of arm {arm} is {state}; nothing to ramp")
    higher = [s for s in plan.steps if s > current.coverage + 1e-12]
    if not higher:
        return step("hold", None, f"ship of arm {arm} complete")
    held = now - current.step_at
    users = _exposed_users(con, spec.key, arm, current.step_at, now)
    waiting = []
    if held < dt.timedelta(days=plan.min_days):
        waiting.append(f"{_fmt_days(held)} of {plan.min_days:g} d at this step")
    if users < plan.min_users_per_arm:
        waiting.append(f"{users:,} of {plan.min_users_per_arm:,} users saw arm {arm}")
    signals = {"shipped_arm": arm, "users": users}
    if waiting:
        return step("hold", None, f"shipping arm {arm}, waiting: " + "; ".join(waiting), signals)
    return step("advance", higher[0], f"shipping arm {arm}: {_fmt_days(held)} at this step, {users:,} users saw it "
                                      "(no control in a ship: guardrails and SRM do not apply)", signals)


def _record(con: duckdb.DuckDBPyConnection, spec: Spec, s: RolloutStep) -> CoverageStep:
    assert s.coverage_after is not None
    shipped = s.signals.get("shipped_arm")
    note = json.dumps({"source": "rollout", "action": s.action, "coverage": s.coverage_after, "phase": s.phase,
                       "hash_seed": spec.seed, "weights": spec.weights, "by": s.actor, "at": s.at.isoformat(),
                       "why": s.reason, **({"shipped_arm": shipped} if shipped else {})}, ensure_ascii=False)
    state = "shipped" if shipped else "rolled_back" if s.action == "rollback" else "running"
    with transaction(con):
        row = record_coverage(con, spec.key, s.coverage_after, phase=s.phase, hash_seed=spec.seed, actor=s.actor,
                              reason=f"{s.action}: {s.reason}", at=s.at, shipped_arm=shipped)
        set_experiment_state(con, spec.key, state, note, actor=s.actor)
    return row

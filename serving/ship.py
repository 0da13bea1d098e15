"""Shipping an arm: from now on every user the current coverage covers gets that arm's texts.

A ship is a new *phase* in ``coverage_steps`` whose rows name the ``shipped_arm``; the hash seed
stays the spec's, so "covered" means exactly what the experiment's own coverage meant (abkit's
holdout and the namespace still get the default experience). Users outside the coverage get the
default experience — the control arm's texts — and no exposure row.

* With a ``rollout:`` plan the ship starts at the plan's first step and ``abkit rollout``
  advances it (serving.rollout); without one it goes straight to 100 %.
* The lifecycle table gets a ``shipped`` row with who and why; both rows are written in one
  transaction (the caller's, when it holds one).

    step = ship_arm(con, spec, "treatment", actor="alice", why="won on CTR")
"""

from __future__ import annotations

import datetime as dt

import duckdb

from abkit.errors import AbkitError
from abkit.spec import Spec
from abkit.warehouse import CoverageStep, atomic, current_coverage, experiment_state, set_experiment_state
from serving.coverage import record_coverage

SHIPPABLE_STATES = ("running", "stopped")


class ShipError(AbkitError):
    """The arm cannot be shipped (not a treatment arm, the experiment's state forbids it, no why)."""


def ship_note(arm: str, why: str) -> str:
    return f"ship arm {arm}: {why}"


def ship_arm(con: duckdb.DuckDBPyConnection, spec: Spec, arm: str, *, actor: str, why: str,
             at: dt.datetime | None = None) -> CoverageStep:
    """Record the ship of ``arm`` (a coverage step of a new phase and a lifecycle row) and return the step."""
    if arm not in spec.treatment_arms:
        raise ShipError(f"arm: choose the treatment arm to ship (one of {', '.join(spec.treatment_arms)})")
    why = why.strip()
    if not why:
        raise ShipError("why: say why (it goes into the audit trail)")
    with atomic(con):
        state = experiment_state(con, spec.key) or "draft"
        if state not in SHIPPABLE_STATES:
            raise ShipError(f"{spec.key}: cannot ship an experiment that is {state}")
        current = current_coverage(con, spec.key)
        phase = current.phase + 1 if current is not None else 1
        coverage = spec.rollout.steps[0] if spec.rollout is not None else 1.0
        plan = "the rollout plan's first step" if spec.rollout is not None else "no rollout plan: everyone"
        step = record_coverage(con, spec.key, coverage, phase=phase, hash_seed=spec.seed, actor=actor,
                               reason=f"ship arm {arm} at {plan}: {why}", at=at, shipped_arm=arm)
        set_experiment_state(con, spec.key, "shipped", ship_note(arm, why), actor=actor)
    return step

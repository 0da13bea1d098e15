"""Lifecycle actions (launch, stop, ship arm X, roll back) and their audit trail.

Rows go to the warehouse's `lifecycle` table (read by `abkit status`) with who did it
(`actor`), when and why (`note`). "Ship arm X" is serving.ship.ship_arm: besides the audit row
it starts the ship's coverage phase, which `abkit serve` serves and `abkit rollout` ramps.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import duckdb

from abkit.errors import AbkitError
from abkit.spec import Spec
from abkit.warehouse import EXPERIMENT_STATES, CoverageStep, current_coverage
from serving.ship import ship_arm

# action -> (states it may start from, state it leads to); "draft" also stands for "no state recorded".
ACTIONS: dict[str, tuple[frozenset[str], str]] = {
    "launch": (frozenset({"draft"}), "running"),
    "stop": (frozenset({"running"}), "stopped"),
    "ship": (frozenset({"running", "stopped"}), "shipped"),
    "rollback": (frozenset({"running", "stopped", "shipped"}), "rolled_back"),
}
LOCKED_STATES = frozenset({"running", "stopped", "shipped", "rolled_back"})


class LifecycleError(AbkitError):
    """An action that the experiment's state does not allow, or that lacks what it needs."""


@dataclass(frozen=True)
class AuditRow:
    state: str
    changed_at: dt.datetime
    actor: str | None
    note: str | None


def current_states(con: duckdb.DuckDBPyConnection | None) -> dict[str, tuple[str, dt.datetime]]:
    """Latest state per experiment, with when it was entered."""
    if con is None:
        return {}
    rows = con.execute(
        """SELECT experiment, state, changed_at FROM (
               SELECT *, row_number() OVER (PARTITION BY experiment ORDER BY changed_at DESC, rowid DESC) AS rn
               FROM lifecycle) WHERE rn = 1"""
    ).fetchall()
    return {e: (s, t) for e, s, t in rows}


def audit_trail(con: duckdb.DuckDBPyConnection | None, experiment: str) -> list[AuditRow]:
    """Every recorded state change of the experiment, newest first."""
    if con is None:
        return []
    rows = con.execute(
        "SELECT state, changed_at, actor, note FROM lifecycle WHERE experiment = ? "
        "ORDER BY changed_at DESC, rowid DESC", [experiment]).fetchall()
    return [AuditRow(*r) for r in rows]


def state_of(con: duckdb.DuckDBPyConnection | None, experiment: str) -> str:
    return current_states(con).get(experiment, ("draft", None))[0]


def record(con: duckdb.DuckDBPyConnection, experiment: str, state: str, *, actor: str, note: str | None) -> None:
    """Insert one audit row (inside the caller's transaction)."""
    if state not in EXPERIMENT_STATES:
        raise LifecycleError(f"unknown experiment state {state!r}")
    con.execute("INSERT INTO lifecycle (experiment, state, changed_at, note, actor) VALUES (?, ?, now(), ?, ?)",
                [experiment, state, note, actor])


def ship_state(con: duckdb.DuckDBPyConnection | None, experiment: str) -> CoverageStep | None:
    """The current step of the experiment's ship (arm, coverage, phase), if it was shipped."""
    step = current_coverage(con, experiment) if con is not None else None
    return step if step is not None and step.shipped_arm is not None else None


def apply_action(con: duckdb.DuckDBPyConnection, experiment: str, action: str, *, actor: str, why: str,
                 arm: str | None = None, spec: Spec | None = None) -> str:
    """Check the transition, record it (a ship also starts its coverage phase); returns the new state."""
    if action not in ACTIONS:
        raise LifecycleError(f"unknown action {action!r}")
    allowed, target = ACTIONS[action]
    current = state_of(con, experiment)
    if current not in allowed:
        raise LifecycleError(f"{experiment}: cannot {action} an experiment that is {current}")
    why = why.strip()
    if not why:
        raise LifecycleError("why: say why (it goes into the audit trail)")
    if action == "ship":
        if spec is None:
            raise LifecycleError(f"{experiment}: shipping needs a valid spec file (its arms and rollout plan)")
        ship_arm(con, spec, arm or "", actor=actor, why=why)
        return target
    record(con, experiment, target, actor=actor, note=why)
    return target


def as_dicts(rows: list[AuditRow]) -> list[dict[str, Any]]:
    return [r.__dict__ for r in rows]

"""The stored "current coverage" of an experiment (table ``coverage_steps``; latest row wins).

A ramp raises coverage in steps and a rollback sets it to 0; every step records who, when and
why. A row belongs to a *phase* with its own hash seed: changing the arm weights moves users,
so it needs a new phase with a new seed, and rows of an older seed no longer apply.

    ensure_coverage_table(con)
    record_coverage(con, "exp1", 0.25, phase=1, hash_seed="exp1", actor="cron", reason="advance")
    step = current_coverage(con, "exp1")   # CoverageStep | None
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

from abkit.spec import Spec
from abkit.warehouse import has_table

COVERAGE_TABLE_DDL = """CREATE TABLE IF NOT EXISTS coverage_steps (
    experiment VARCHAR NOT NULL,
    phase      INTEGER NOT NULL,
    coverage   DOUBLE NOT NULL,
    hash_seed  VARCHAR,
    step_at    TIMESTAMP NOT NULL,
    actor      VARCHAR,
    reason     VARCHAR)"""


@dataclass(frozen=True)
class CoverageStep:
    experiment: str
    phase: int
    coverage: float
    hash_seed: str | None
    step_at: dt.datetime
    actor: str | None
    reason: str | None


def ensure_coverage_table(con: duckdb.DuckDBPyConnection) -> None:
    """Create ``coverage_steps`` when this database predates it (read-write connections only)."""
    con.execute(COVERAGE_TABLE_DDL)


def current_coverage(con: duckdb.DuckDBPyConnection, experiment: str) -> CoverageStep | None:
    """The latest coverage step of ``experiment`` (None when none is stored or the table is absent)."""
    if not has_table(con, "coverage_steps"):
        return None
    row = con.execute(
        """SELECT experiment, phase, coverage, hash_seed, step_at, actor, reason FROM coverage_steps
           WHERE experiment = ? ORDER BY step_at DESC, rowid DESC LIMIT 1""",
        [experiment],
    ).fetchone()
    return CoverageStep(*row) if row else None


def record_coverage(
    con: duckdb.DuckDBPyConnection, experiment: str, coverage: float, *, phase: int, hash_seed: str | None,
    actor: str | None, reason: str | None, at: dt.datetime | None = None,
) -> CoverageStep:
    """Append one step (the table is created if missing). ``at`` defaults to now (naive UTC)."""
    if not 0.0 <= coverage <= 1.0:
        raise ValueError(f"coverage must be in [0, 1], got {coverage}")
    ensure_coverage_table(con)
    when = at if at is not None else dt.datetime.now(dt.UTC).replace(tzinfo=None)
    con.execute("INSERT INTO coverage_steps VALUES (?, ?, ?, ?, ?, ?, ?)",
                [experiment, phase, coverage, hash_seed, when, actor, reason])
    return CoverageStep(experiment, phase, coverage, hash_seed, when, actor, reason)


def effective_spec(spec: Spec, step: CoverageStep | None) -> Spec:
    """The spec with its current coverage: the stored step of the spec's seed, else the plan's first
    step (a spec with ``rollout``), else the spec's own ``coverage``."""
    if step is not None and (step.hash_seed is None or step.hash_seed == spec.seed):
        coverage = step.coverage
    elif spec.rollout is not None:
        coverage = spec.rollout.steps[0]
    else:
        return spec
    return spec.model_copy(update={"coverage": coverage})

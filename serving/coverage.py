"""The stored "current coverage" of an experiment (table ``coverage_steps``; latest row wins).

A ramp raises coverage in steps and a rollback sets it to 0; every step records who, when and
why. A row belongs to a *phase* with its own hash seed: changing the arm weights moves users,
so it needs a new phase with a new seed, and rows of an older seed no longer apply.

    record_coverage(con, "exp1", 0.25, phase=1, hash_seed="exp1", actor="cron", reason="advance")
    step = current_coverage(con, "exp1")   # CoverageStep | None
    spec = effective_spec(spec, step)      # the spec at its current coverage

The table and its two functions live in abkit.warehouse; this module applies a step to a spec.
"""

from __future__ import annotations

from abkit.spec import Spec
from abkit.warehouse import CoverageStep, current_coverage, record_coverage

__all__ = ["CoverageStep", "current_coverage", "effective_spec", "record_coverage"]


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

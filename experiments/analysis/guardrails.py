"""Guardrails: one-sided non-inferiority of each guardrail metric, and the spec's text guardrails."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from abkit.decision import GuardrailCheck, TextGuardrailCheck, check_guardrail
from abkit.spec import Spec
from abkit.stats.sequential import SequentialDesign
from experiments.analysis.rows import Results, Row


def metric_guardrails(spec: Spec, results: Results, *, tuning_n: float | None = None
                      ) -> tuple[list[Row], list[GuardrailCheck]]:
    """Per guardrail and treatment arm: the JSON row and the decision's check (same numbers), judged by
    abkit.decision.check_guardrail in the metric's own direction; in sequential mode with always-valid
    one-sided bounds at N* = ``tuning_n``."""
    rows, checks = [], []
    for g in spec.guardrails:
        for arm in spec.treatment_arms:
            r = results[(g.metric, arm, spec.control_arm)]
            design = None
            if spec.sequential.enabled:
                n = int(r.extra.get("n_control") or 0) + int(r.extra.get("n_treatment") or 0)
                design = SequentialDesign(max(n, 1), tuning_n)
            c = check_guardrail(g.metric, arm, r, g.margin, alpha=spec.alpha, sequential=design)
            checks.append(c)
            rows.append({"metric": g.metric, "arm": arm, "baseline": spec.control_arm, "margin": g.margin,
                         "rel_lift": r.rel_lift, "bound": c.bound, "p_value": c.p_value,
                         "non_inferior": c.non_inferior, "shown_worse": c.shown_worse, "warning": c.warning,
                         "higher_is_better": c.higher_is_better, "small_sample": c.small_sample,
                         "sequential": design is not None})
    return rows, checks


_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": lambda a, b: a <= b, "<": lambda a, b: a < b, ">=": lambda a, b: a >= b,
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


def text_guardrail_rows(checks: list[TextGuardrailCheck]) -> list[Row]:
    return [{"arm": c.arm, "rule": c.rule, "value": c.value, "passed": c.passed} for c in checks]

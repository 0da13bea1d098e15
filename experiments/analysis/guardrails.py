"""Guardrails: one-sided non-inferiority of each guardrail metric, and the spec's text guardrails."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from abkit.decision import GuardrailCheck, TextGuardrailCheck
from abkit.metrics import METRICS
from abkit.spec import Spec
from abkit.stats.noninferiority import noninferiority, shown_worse
from experiments.analysis.rows import Results, Row


def metric_guardrails(spec: Spec, results: Results) -> tuple[list[Row], list[GuardrailCheck]]:
    """Per guardrail and treatment arm: the JSON row and the decision's check (same numbers)."""
    rows, checks = [], []
    for g in spec.guardrails:
        hib = METRICS[g.metric].higher_is_better
        for arm in spec.treatment_arms:
            r = results[(g.metric, arm, spec.control_arm)]
            ni = noninferiority(r, g.margin, alpha=spec.alpha, higher_is_better=hib)
            worse = shown_worse(r, g.margin, spec.alpha, hib)
            checks.append(GuardrailCheck(g.metric, arm, g.margin, ni.passed, worse, ni.bound, r.rel_lift))
            rows.append({"metric": g.metric, "arm": arm, "baseline": spec.control_arm, "margin": g.margin,
                         "rel_lift": r.rel_lift, "bound": ni.bound, "p_value": ni.p_value,
                         "non_inferior": ni.passed, "shown_worse": worse, "warning": ni.inconclusive_reason})
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

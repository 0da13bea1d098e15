"""The rollout plan that goes with a `ship` decision.

Ramping is done by *coverage* in a new phase with a new hash seed — never by changing arm
weights mid-experiment, which would move already-enrolled users between arms and bias every
comparison. Raising coverage only adds users (GrowthBook's bucketing keeps enrolled users where
they are), so each step's users can be compared with the not-yet-covered users. A holdout that
never gets the winner stays aside so the long-term effect can be analyzed later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from abkit.result import AnalysisResult
from abkit.spec import Spec

RAMP: tuple[tuple[float, int], ...] = ((0.05, 1), (0.25, 2), (0.50, 3), (1.00, 7))  # (coverage, min days)
DEFAULT_HOLDOUT = 0.05


@dataclass(frozen=True)
class RolloutStep:
    coverage: float  # share of eligible (non-holdout) users who get the winner
    min_days: int
    watch: list[str]  # what must stay healthy before moving on


@dataclass(frozen=True)
class RolloutPlan:
    arm: str
    control: str
    seed: str  # hash seed of the rollout phase (differs from the experiment's)
    holdout: float
    steps: list[RolloutStep] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"arm": self.arm, "control": self.control, "seed": self.seed, "holdout": self.holdout,
                "steps": [{"coverage": s.coverage, "min_days": s.min_days, "watch": list(s.watch)} for s in self.steps]}


def _guardrail_watch(spec: Spec) -> tuple[list[str], list[str]]:
    def value(v: float | str) -> str:
        return f"{v:g}" if isinstance(v, float) else str(v)

    text = [f"{g.metric} {g.op} {value(g.value)}" + (f" (−{g.tolerance:g})" if g.tolerance else "") for g in spec.text_guardrails]
    metric = [f"{g.metric} ≥ −{g.margin:.0%}" for g in spec.guardrails]
    return text, metric


def rollout_plan(spec: Spec, result: AnalysisResult) -> RolloutPlan | None:
    """The ramp for the shipped arm, or None when the decision is not `ship`."""
    decision = result.decision
    if decision.action != "ship" or not decision.arm:
        return None
    text, metric = _guardrail_watch(spec)
    safety = ["SRM", "fallback rate", *text]
    steps = [
        RolloutStep(RAMP[0][0], RAMP[0][1], safety),
        RolloutStep(RAMP[1][0], RAMP[1][1], [*safety, *metric]),
        RolloutStep(RAMP[2][0], RAMP[2][1], [*safety, *metric, spec.primary_metric]),
        RolloutStep(RAMP[3][0], RAMP[3][1], [*safety, *metric, spec.primary_metric, "holdout comparison"]),
    ]
    return RolloutPlan(
        arm=decision.arm,
        control=result.control or spec.control_arm,
        seed=f"{spec.seed}_rollout",
        holdout=spec.holdout if spec.holdout > 0 else DEFAULT_HOLDOUT,
        steps=steps,
    )


def _increments(plan: RolloutPlan) -> list[tuple[RolloutStep, list[str], bool]]:
    """Each step with what it adds to watch (the first lists everything) and whether it is the first."""
    out, seen = [], []
    for i, s in enumerate(plan.steps):
        added = [w for w in s.watch if w not in seen]
        out.append((s, added, i == 0))
        seen += added
    return out


def describe(plan: RolloutPlan, lang: str = "zh") -> list[str]:
    """The plan as short sentences (plain text: the HTML layer escapes them)."""
    if lang == "zh":
        head = [
            f"新开一个放量阶段（新的哈希种子 {plan.seed}），只提高覆盖比例，绝不在实验中途改变各组权重。",
            f"始终保留 {plan.holdout:.0%} 的 holdout 用户使用 {plan.control}，用于日后评估长期效果。",
        ]
        steps = [f"覆盖 {s.coverage:.0%} 的用户使用 {plan.arm}，至少 {s.min_days} 天；观察："
                 + ("、".join(new) if first else "前述各项" + (f"，另加 {'、'.join(new)}" if new else "")) + "。"
                 for s, new, first in _increments(plan)]
        tail = ["任一护栏未通过或 SRM 失衡：退回上一阶段（回滚到对照），排查后再继续。"]
    else:
        head = [
            f"Start a rollout phase with a new hash seed ({plan.seed}); ramp by coverage only, never by changing arm weights.",
            f"Keep a {plan.holdout:.0%} holdout on {plan.control} so the long-term effect can be analyzed later.",
        ]
        steps = [f"{s.coverage:.0%} of users get {plan.arm} for at least {s.min_days} day(s); watch: "
                 + (", ".join(new) if first else "all of the above" + (f" plus {', '.join(new)}" if new else "")) + "."
                 for s, new, first in _increments(plan)]
        tail = ["If a guardrail fails or SRM appears: go back one step (roll back to control) and investigate."]
    return head + steps + tail


def next_steps(spec: Spec, result: AnalysisResult, lang: str = "zh") -> list[str]:
    """What to do when the decision is not `ship` (plain text)."""
    action = result.decision.action
    planned = result.planned_users_per_arm or spec.planned_users_per_arm
    zh = lang == "zh"
    if action == "stop":
        return ["停止实验并排查原因；修复后以新的哈希种子开启新阶段重新实验，不要在原实验中调整权重。" if zh else
                "Stop and investigate; after the fix, start a new phase with a new hash seed rather than changing weights."]
    if action == "keep_running":
        need = f"（计划每组 {planned:,} 用户）" if zh and planned else (f" (planned {planned:,} users per arm)" if planned else "")
        return [f"继续运行到计划样本量{need}，期间不要提前下结论或调整权重。" if zh else
                f"Keep running until the planned sample is reached{need}; do not peek-and-stop or change weights."]
    if action == "no_decision":
        return ["效果不确定：保留对照并结束，或以新的哈希种子开启新阶段、用更大样本重新检验。" if zh else
                "Inconclusive: keep the control and end, or start a new phase with a new seed and a larger sample."]
    return []

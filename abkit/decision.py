"""The decision rule of docs/interface.md, Analysis JSON: an ordered policy, per-arm verdicts, a next step.

`action` — order: SRM → stop; a failed text guardrail → stop; a guardrail metric shown worse than
its margin → stop; fixed horizon with the planned sample not reached → keep_running; the primary
metric significant (by the adjusted p-value alone, p < alpha strictly) and better with every
guardrail shown non-inferior → ship (best confidence bound of relative lift among several arms:
the lower bound, or for a lower-is-better metric the most negative upper bound); otherwise
no_decision.

`arms` — one verdict per treatment arm against control, first match wins:
  harmful         a failed text guardrail, a guardrail shown worse, or the primary metric
                  significantly worse (fixed horizon: once the planned sample is in);
  ship_candidate  the primary metric significantly better than control, every guardrail of the
                  arm non-inferior, the planned sample in (fixed horizon);
  keep_running    below its planned sample (fixed horizon, or sequential and not yet decided);
  inconclusive    otherwise.
Treatment-vs-treatment comparisons add reasons, never a verdict. A row below the small-sample rule
(`small_sample`) is never significant, never shown worse, never non-inferior.

`next_step` — instructions in order: fix the data (SRM), stop harmful arms, ship the best
candidate with a ramp, keep arms running to their planned sample (with days when known), or end
without a winner. Every sentence is a `Message` (code + params + English text) that
abkit.messages renders in Chinese or English; `reasons` keeps the English sentences.

Pure function of small records; `check_guardrail` is the one place where a guardrail's
direction (the metric's higher_is_better) meets the stats functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from abkit.messages import Message
from abkit.metrics import METRICS
from abkit.stats.noninferiority import noninferiority, shown_worse
from abkit.stats.sequential import SequentialDesign
from abkit.stats.significance import significance
from abkit.stats.types import TestResult

Action = Literal["ship", "keep_running", "stop", "no_decision"]
Verdict = Literal["ship_candidate", "harmful", "inconclusive", "keep_running"]


@dataclass(frozen=True)
class PrimaryEvidence:
    """The primary metric's row for one treatment arm against control."""

    arm: str
    p_value_adjusted: float | None
    rel_lift: float | None
    rel_ci_low: float | None
    rel_ci_high: float | None
    abs_lift: float | None = None
    warning: str | None = None
    small_sample: bool = False

    @classmethod
    def from_row(cls, row: Mapping[str, Any], *, sequential: bool) -> PrimaryEvidence:
        """From an analysis metrics row: in sequential mode the always-valid p and interval."""
        pre = "seq_" if sequential else ""
        return cls(row["arm"], row.get(f"{pre}p_value_adjusted"), row.get("rel_lift"), row.get(f"{pre}rel_ci_low"),
                   row.get(f"{pre}rel_ci_high"), row.get("abs_lift"), row.get("warning"),
                   bool(row.get("small_sample", False)))


@dataclass(frozen=True)
class PairEvidence:
    """The primary metric of one treatment arm against another (spec `comparisons`)."""

    arm: str
    baseline: str
    p_value_adjusted: float | None
    rel_lift: float | None
    abs_lift: float | None = None
    small_sample: bool = False

    @classmethod
    def from_row(cls, row: Mapping[str, Any], *, sequential: bool) -> PairEvidence:
        pre = "seq_" if sequential else ""
        return cls(row["arm"], row["baseline"], row.get(f"{pre}p_value_adjusted"), row.get("rel_lift"),
                   row.get("abs_lift"), bool(row.get("small_sample", False)))


@dataclass(frozen=True)
class GuardrailCheck:
    """A behavioural guardrail of one arm: one-sided non-inferiority against a relative margin."""

    metric: str
    arm: str
    margin: float
    non_inferior: bool
    shown_worse: bool
    bound: float | None = None  # the one-sided bound on the side that matters
    rel_lift: float | None = None
    higher_is_better: bool = True
    small_sample: bool = False
    p_value: float | None = None
    warning: str | None = None

    @property
    def limit(self) -> float:
        """The lift the bound is compared with: -margin, or +margin when lower is better."""
        return -self.margin if self.higher_is_better else self.margin


def check_guardrail(metric: str, arm: str, result: TestResult, margin: float, *, alpha: float,
                    sequential: SequentialDesign | None = None) -> GuardrailCheck:
    """Judge one guardrail row with the metric's own direction (abkit.metrics), fixed-horizon or,
    with `sequential`, always-valid one-sided bounds (abkit.stats.noninferiority)."""
    hib = METRICS[metric].higher_is_better
    ni = noninferiority(result, margin, alpha=alpha, higher_is_better=hib, sequential=sequential)
    worse = shown_worse(result, margin, alpha, hib, sequential=sequential)
    return GuardrailCheck(metric, arm, margin, ni.passed, worse, ni.bound, result.rel_lift, hib,
                          result.small_sample, ni.p_value, ni.inconclusive_reason)


@dataclass(frozen=True)
class TextGuardrailCheck:
    """A guardrail on the texts an arm showed, e.g. ``unfaithful_rate <= 0.01``."""

    arm: str
    rule: str
    value: float | None
    passed: bool | None  # None: could not be evaluated


@dataclass(frozen=True)
class ArmVerdict:
    """One treatment arm's verdict against control, with its reasons."""

    arm: str
    verdict: Verdict
    reasons: list[Message] = field(default_factory=list)
    users: int | None = None
    planned_users: int | None = None
    users_to_go: int | None = None  # users the arm (or its control) still needs to reach the plan
    days_to_go: int | None = None


@dataclass(frozen=True)
class Decision:
    action: Action
    arm: str | None
    reasons: list[str] = field(default_factory=list)  # English, one sentence each (= messages' text)
    messages: list[Message] = field(default_factory=list)
    arms: list[ArmVerdict] = field(default_factory=list)
    next_step: list[Message] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def verdict(self, arm: str) -> ArmVerdict:
        for v in self.arms:
            if v.arm == arm:
                return v
        raise KeyError(arm)


def _better(e: PrimaryEvidence, higher_is_better: bool) -> bool:
    lift = e.abs_lift if e.abs_lift is not None else e.rel_lift
    return lift is not None and (lift > 0 if higher_is_better else lift < 0)


def _direction(e: PrimaryEvidence | PairEvidence, alpha: float, higher_is_better: bool) -> str | None:
    lift = e.abs_lift if e.abs_lift is not None else e.rel_lift
    return significance(e.p_value_adjusted, lift, alpha, higher_is_better=higher_is_better,
                        small_sample=e.small_sample)


def _score(e: PrimaryEvidence, higher_is_better: bool) -> float:
    """The confidence bound that ranks winners: larger is better for both directions."""
    if higher_is_better:
        return e.rel_ci_low if e.rel_ci_low is not None else float("-inf")
    return -e.rel_ci_high if e.rel_ci_high is not None else float("-inf")


def decide(
    *,
    primary_metric: str,
    primary: Sequence[PrimaryEvidence],
    alpha: float,
    srm_ok: bool,
    srm_p_value: float | None = None,
    users: Mapping[str, int] | None = None,
    text_checks: Sequence[TextGuardrailCheck] = (),
    guardrails: Sequence[GuardrailCheck] = (),
    planned_users_per_arm: int | None = None,
    sequential: bool = False,
    higher_is_better: bool = True,
    p_label: str = "adjusted p",
    control: str | None = None,
    comparisons: Sequence[PairEvidence] = (),
    days_to_go: Mapping[str, int | None] | None = None,
) -> Decision:
    """Apply the policy of the module docstring; the first rule that fires decides `action`.

    `control` names the control arm in `users` (its size counts towards each arm's sample);
    `comparisons` are treatment-vs-treatment rows of the primary metric; `days_to_go` the days each
    arm still needs to reach `planned_users_per_arm` (e.g. from abkit.stats.growth.days_needed).
    """
    users = dict(users or {})
    guardrails = [g for g in guardrails]
    msgs, action, arm = _action(primary_metric, primary, alpha, srm_ok, srm_p_value, users, text_checks,
                                guardrails, planned_users_per_arm, sequential, higher_is_better, p_label)
    verdicts = _verdicts(primary_metric, primary, alpha, srm_ok, users, text_checks, guardrails,
                         planned_users_per_arm, sequential, higher_is_better, p_label, control, comparisons,
                         dict(days_to_go or {}))
    steps = _next_step(action, arm, srm_ok, verdicts, primary, higher_is_better, planned_users_per_arm, sequential)
    return Decision(action, arm, [m.text for m in msgs], msgs, verdicts, steps)


def _action(primary_metric: str, primary: Sequence[PrimaryEvidence], alpha: float, srm_ok: bool,
            srm_p_value: float | None, users: dict[str, int], text_checks: Sequence[TextGuardrailCheck],
            guardrails: Sequence[GuardrailCheck], planned: int | None, sequential: bool, hib: bool,
            p_label: str) -> tuple[list[Message], Action, str | None]:
    M = Message.of
    # 1. Sample ratio mismatch: the data are broken, nothing else can be read.
    if not srm_ok:
        counts = ", ".join(f"{a} {n:,}" for a, n in users.items())
        return [M("srm_mismatch", counts=counts, p=srm_p_value)], "stop", None
    # 2. Text guardrails.
    failed_text = [c for c in text_checks if c.passed is False]
    if failed_text:
        return ([M("text_guardrail_failed", arm=c.arm, rule=c.rule, value=c.value) for c in failed_text],
                "stop", failed_text[0].arm)
    # 3. Behavioural guardrails shown worse than their margin (never from a small-sample row).
    worse = [g for g in guardrails if g.shown_worse and not g.small_sample]
    if worse:
        return ([M("guardrail_shown_worse", metric=g.metric, arm=g.arm, margin=g.margin, lift=g.rel_lift)
                 for g in worse], "stop", worse[0].arm)
    notes: list[Message] = []
    # 4. Fixed horizon: do not read the result before the planned sample is in.
    if sequential:
        notes.append(M("sequential_on"))
    elif planned is None:
        notes.append(M("no_plan"))
    else:
        smallest = min(users.values()) if users else 0
        if smallest < planned:
            return [M("sample_not_reached", smallest=smallest, planned=planned, share=smallest / planned)], \
                "keep_running", None
    # 5. Ship: significant and better, every guardrail non-inferior.
    candidates: list[PrimaryEvidence] = []
    reasons: list[Message] = []
    for e in primary:
        if e.p_value_adjusted is None or e.small_sample:
            if e.small_sample:
                reasons.append(M("primary_small_sample", metric=primary_metric, arm=e.arm))
            else:
                reasons.append(M("primary_untestable", metric=primary_metric, arm=e.arm,
                                 why=f" ({e.warning})" if e.warning else ""))
            continue
        direction = _direction(e, alpha, hib)
        if direction is None:
            reasons.append(M("primary_not_significant", metric=primary_metric, arm=e.arm, p_term=p_label,
                             p=e.p_value_adjusted, alpha=alpha, lift=e.rel_lift))
            continue
        if direction == "worse":
            reasons.append(M("primary_significantly_worse", metric=primary_metric, arm=e.arm, lift=e.rel_lift,
                             p_term=p_label, p=e.p_value_adjusted))
            continue
        blocking = [g for g in guardrails if g.arm == e.arm and not g.non_inferior]
        if blocking:
            reasons += [M("primary_better_guardrail_blocks", metric=primary_metric, arm=e.arm, guardrail=g.metric,
                          bound=g.bound, limit=g.limit) for g in blocking]
            continue
        candidates.append(e)
    if candidates:
        best = max(candidates, key=lambda e: _score(e, hib))
        out = [M("primary_better", metric=primary_metric, arm=best.arm, lift=best.rel_lift, low=best.rel_ci_low,
                 high=best.rel_ci_high, p_term=p_label, p=best.p_value_adjusted, alpha=alpha)]
        mine = [g.metric for g in guardrails if g.arm == best.arm]
        if mine:
            out.append(M("guardrails_non_inferior", metrics=mine))
        if len(candidates) > 1:
            out.append(M("best_of_several", count=len(candidates), arm=best.arm,
                         bound=best.rel_ci_low if hib else best.rel_ci_high))
        return out + notes, "ship", best.arm
    if not reasons:
        reasons.append(M("no_primary_result", metric=primary_metric))
    return reasons + notes, "no_decision", None


def _verdicts(primary_metric: str, primary: Sequence[PrimaryEvidence], alpha: float, srm_ok: bool,
              users: dict[str, int], text_checks: Sequence[TextGuardrailCheck],
              guardrails: Sequence[GuardrailCheck], planned: int | None, sequential: bool, hib: bool,
              p_label: str, control: str | None, comparisons: Sequence[PairEvidence],
              days_to_go: dict[str, int | None]) -> list[ArmVerdict]:
    M = Message.of
    out: list[ArmVerdict] = []
    for e in primary:
        n_pair = _pair_users(users, e.arm, control)
        reached = planned is None or n_pair >= planned
        days = None if reached else days_to_go.get(e.arm)

        def verdict(v: Verdict, reasons: list[Message], arm: str = e.arm, days: int | None = days,
                    n_pair: int = n_pair) -> ArmVerdict:
            to_go = None if planned is None else max(planned - n_pair, 0)
            return ArmVerdict(arm, v, reasons, users.get(arm), planned, to_go, days)

        pairs = [M("arm_vs_arm", arm=p.arm, other=p.baseline, metric=primary_metric, direction_term=d,
                   lift=p.rel_lift, p_term=p_label, p=p.p_value_adjusted)
                 for p in comparisons if e.arm in (p.arm, p.baseline)
                 for d in [_direction(p, alpha, hib)] if d is not None]
        if not srm_ok:
            out.append(verdict("inconclusive", [M("arm_srm", arm=e.arm)]))
            continue
        harm = [M("arm_harmful_text", arm=e.arm, rule=c.rule, value=c.value)
                for c in text_checks if c.arm == e.arm and c.passed is False]
        harm += [M("arm_harmful_guardrail", arm=e.arm, metric=g.metric, margin=g.margin, lift=g.rel_lift)
                 for g in guardrails if g.arm == e.arm and g.shown_worse and not g.small_sample]
        direction = _direction(e, alpha, hib)
        readable = sequential or reached
        if direction == "worse" and readable:
            harm.append(M("arm_harmful_primary", arm=e.arm, metric=primary_metric, lift=e.rel_lift, p_term=p_label,
                          p=e.p_value_adjusted))
        if harm:
            out.append(verdict("harmful", harm + pairs))
            continue
        unproven = [M("arm_guardrail_unproven", arm=e.arm, guardrail=g.metric, bound=g.bound, limit=g.limit)
                    for g in guardrails if g.arm == e.arm and not g.non_inferior]
        if direction == "better" and readable and not unproven:
            out.append(verdict("ship_candidate", [
                M("arm_ship_candidate", arm=e.arm, metric=primary_metric, lift=e.rel_lift, low=e.rel_ci_low,
                  high=e.rel_ci_high)] + pairs))
            continue
        if e.small_sample:
            why = [M("arm_small_sample", arm=e.arm, metric=primary_metric)]
        elif e.p_value_adjusted is None:
            why = [M("arm_untestable", arm=e.arm, metric=primary_metric)]
        elif direction is None:
            why = [M("arm_not_significant", arm=e.arm, metric=primary_metric, p_term=p_label, p=e.p_value_adjusted,
                     lift=e.rel_lift)]
        else:
            why = []
        why += unproven if direction == "better" else []
        if planned is not None and not reached:
            why.insert(0, M("arm_keep_running", arm=e.arm, users=n_pair, planned=planned, share=n_pair / planned))
            out.append(verdict("keep_running", why + pairs))
        else:
            out.append(verdict("inconclusive", why + pairs))
    return out


def _pair_users(users: Mapping[str, int], arm: str, control: str | None) -> int:
    """Users of the smaller of (arm, control); the smallest arm when either count is unknown."""
    if arm in users and control in users:
        return min(users[arm], users[control])  # type: ignore[index]
    if arm in users and control is None:
        return users[arm]
    return min(users.values()) if users else 0


def _next_step(action: Action, arm: str | None, srm_ok: bool, verdicts: list[ArmVerdict],
               primary: Sequence[PrimaryEvidence], hib: bool, planned: int | None, sequential: bool) -> list[Message]:
    M = Message.of
    if not srm_ok:
        return [M("next_fix_srm")]
    steps: list[Message] = []
    harmful = [v.arm for v in verdicts if v.verdict == "harmful"]
    if harmful:
        steps.append(M("next_stop_arms", arms=harmful))
    by_arm = {e.arm: e for e in primary}
    candidates = [v.arm for v in verdicts if v.verdict == "ship_candidate"]
    ship = arm if action == "ship" else (max(candidates, key=lambda a: _score(by_arm[a], hib)) if candidates else None)
    if ship is not None:
        return steps + [M("next_ship_ramp", arm=ship)]
    running = [v for v in verdicts if v.verdict == "keep_running"]
    for v in running:
        to_go = v.users_to_go
        if v.days_to_go is not None:
            steps.append(M("next_keep_running_days", arm=v.arm, days=v.days_to_go, planned=v.planned_users,
                           to_go=to_go))
        else:
            steps.append(M("next_keep_running_users", arm=v.arm, planned=v.planned_users, to_go=to_go))
    if running or len(harmful) == len(verdicts) and harmful:
        return steps
    if planned is None and not sequential:
        return steps + [M("next_set_plan")]
    if planned is None:
        return steps + [M("next_keep_collecting")]
    return steps + [M("next_no_winner")]

"""The decision rule of docs/interface.md, Analysis JSON: an ordered policy, each reason one sentence.

Order: SRM → stop; a failed text guardrail → stop; a guardrail metric shown worse than its
margin → stop; fixed horizon with the planned sample not reached → keep_running; the primary
metric significant (by the adjusted p-value alone) and better with every guardrail shown
non-inferior → ship (best lower confidence bound of relative lift among several arms);
otherwise no_decision. Pure function of small records; no statistics are computed here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Action = Literal["ship", "keep_running", "stop", "no_decision"]


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


@dataclass(frozen=True)
class TextGuardrailCheck:
    """A guardrail on the texts an arm showed, e.g. ``unfaithful_rate <= 0.01``."""

    arm: str
    rule: str
    value: float | None
    passed: bool | None  # None: could not be evaluated


@dataclass(frozen=True)
class Decision:
    action: Action
    arm: str | None
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:+.2%}"


def _better(e: PrimaryEvidence, higher_is_better: bool) -> bool:
    lift = e.abs_lift if e.abs_lift is not None else e.rel_lift
    return lift is not None and (lift > 0 if higher_is_better else lift < 0)


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
) -> Decision:
    """Apply the docs/interface.md, Analysis JSON policy in order; the first rule that fires decides."""
    users = dict(users or {})
    # 1. Sample ratio mismatch: the data are broken, nothing else can be read.
    if not srm_ok:
        counts = ", ".join(f"{a} {n:,}" for a, n in users.items())
        p = f"{srm_p_value:.2g}" if srm_p_value is not None else "n/a"
        return Decision("stop", None, [
            f"Sample ratio mismatch: the users per arm ({counts}) do not match the configured weights "
            f"(chi-square p = {p} < 0.001), so assignment or logging is broken and no lift can be trusted."])
    # 2. Text guardrails.
    failed_text = [c for c in text_checks if c.passed is False]
    if failed_text:
        return Decision("stop", failed_text[0].arm, [
            f"Text guardrail failed in arm {c.arm!r}: {c.rule} does not hold "
            f"(observed {'n/a' if c.value is None else f'{c.value:.4g}'})." for c in failed_text])
    # 3. Behavioural guardrails shown worse than their margin.
    worse = [g for g in guardrails if g.shown_worse]
    if worse:
        return Decision("stop", worse[0].arm, [
            f"Guardrail {g.metric} in arm {g.arm!r} is shown worse than its {g.margin:.1%} margin "
            f"(relative lift {_pct(g.rel_lift)}; the one-sided confidence bound lies beyond the margin)."
            for g in worse])
    notes: list[str] = []
    # 4. Fixed horizon: do not read the result before the planned sample is in.
    if sequential:
        notes.append("Sequential testing is on: always-valid p-values allow a decision at any sample size.")
    elif planned_users_per_arm is None:
        notes.append("No planned sample size is set (spec mde or planned_users_per_arm), "
                     "so the fixed-horizon sample check was skipped.")
    else:
        smallest = min(users.values()) if users else 0
        if smallest < planned_users_per_arm:
            return Decision("keep_running", None, [
                f"Fixed-horizon test: the smallest arm has {smallest:,} users of the "
                f"{planned_users_per_arm:,} planned per arm ({smallest / planned_users_per_arm:.0%}), "
                f"so keep collecting data before reading the result."])
    # 5. Ship: significant and better, every guardrail non-inferior.
    candidates: list[PrimaryEvidence] = []
    reasons: list[str] = []
    for e in primary:
        sig = e.p_value_adjusted is not None and e.p_value_adjusted < alpha
        if e.p_value_adjusted is None:
            why = f" ({e.warning})" if e.warning else ""
            reasons.append(f"{primary_metric} in arm {e.arm!r} could not be tested{why}.")
            continue
        if not sig:
            reasons.append(f"{primary_metric} in arm {e.arm!r} is not significant "
                           f"({p_label} = {e.p_value_adjusted:.3g} >= alpha = {alpha:g}; "
                           f"relative lift {_pct(e.rel_lift)}).")
            continue
        if not _better(e, higher_is_better):
            reasons.append(f"{primary_metric} in arm {e.arm!r} is significantly worse than control "
                           f"(relative lift {_pct(e.rel_lift)}, {p_label} = {e.p_value_adjusted:.3g}).")
            continue
        blocking = [g for g in guardrails if g.arm == e.arm and not g.non_inferior]
        if blocking:
            reasons += [f"{primary_metric} in arm {e.arm!r} is significantly better, but guardrail {g.metric} "
                        f"is not shown non-inferior (one-sided bound {_pct(g.bound)} vs margin "
                        f"{-g.margin:+.1%})." for g in blocking]
            continue
        candidates.append(e)
    if candidates:
        def score(e: PrimaryEvidence) -> float:
            b = e.rel_ci_low if higher_is_better else (-e.rel_ci_high if e.rel_ci_high is not None else None)
            return b if b is not None else float("-inf")

        best = max(candidates, key=score)
        out = [f"{primary_metric} in arm {best.arm!r} is significantly better than control "
               f"(relative lift {_pct(best.rel_lift)}, CI [{_pct(best.rel_ci_low)}, {_pct(best.rel_ci_high)}], "
               f"{p_label} = {best.p_value_adjusted:.3g} < alpha = {alpha:g})."]
        mine = [g for g in guardrails if g.arm == best.arm]
        if mine:
            out.append("Every guardrail is shown non-inferior: "
                       + ", ".join(f"{g.metric} (bound {_pct(g.bound)} vs margin {-g.margin:+.1%})" for g in mine) + ".")
        if len(candidates) > 1:
            bound = best.rel_ci_low if higher_is_better else best.rel_ci_high
            out.append(f"Among {len(candidates)} winning arms, {best.arm!r} has the best confidence bound "
                       f"of relative lift ({_pct(bound)}).")
        return Decision("ship", best.arm, out + notes)
    if not reasons:
        reasons.append(f"No treatment arm has a {primary_metric} result to judge.")
    return Decision("no_decision", None, reasons + notes)

"""Per-segment policy: which arm each segment should get, from the explorer's shrunk lifts.

The best single arm is the one with the largest overall lift (the control when no lift is
positive). A segment deviates from it only when the explorer made an FDR-controlled call
(``significant``) on that segment for some arm, and then gets the arm with the largest shrunk
lift in that segment (0 for the control); the segments without a call get the arm with the
largest weighted shrunk lift over them (the best single arm unless a carved-out responder made
another arm lead overall). Without any call the policy is the single best arm, so noise in 12
personas does not turn into 12 different texts.

The expected gain over the best single arm is Σ_seg w_seg·(shrunk lift of the chosen arm −
shrunk lift of the best single arm), w_seg the segment's share of the control's metric total, as
a relative lift of the whole experiment; its standard error treats segments as independent and
adds the two arms' posterior variances (they share the control, so this is conservative for
positively correlated lifts).

A policy is applied only after the experiment ships, or as the treatment arm of a follow-up
experiment — never inside the running one, which would break its randomization.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from abkit.stats.heterogeneity import Exploration, SliceRow

APPLIES = ("Apply after the experiment ships, or as the treatment arm of a follow-up experiment; never inside the "
           "running experiment, which would break its randomization.")


@dataclass(frozen=True)
class SegmentChoice:
    segment: str
    arm: str
    shrunk_lift: float  # of the chosen arm against the control (0 for the control)
    weight: float
    reason: str


@dataclass
class Policy:
    metric: str
    dimension: str
    control: str
    best_single_arm: str
    segments: list[SegmentChoice]
    gain: float  # relative lift of the policy over the best single arm
    gain_se: float
    note: str = APPLIES
    default: str = field(default="")  # arm for segments not listed (the best single arm)

    @property
    def single_arm(self) -> bool:
        return all(s.arm == self.best_single_arm for s in self.segments)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["assignments"] = {s.segment: s.arm for s in self.segments}
        return out


def _segment_rows(ex: Exploration, dimension: str) -> dict[str, SliceRow]:
    return {r.values[0]: r for r in ex.rows if r.dimensions == (dimension,) and r.shrunk_lift is not None}


def _best_for(best: str, segments: list[str], lifts: dict[str, dict[str, float]],
              weights: dict[str, float]) -> str:
    """The arm with the largest weighted shrunk lift over ``segments`` (those without a call).

    Once a responding segment is carved out, the best arm for the others can differ from the
    best single arm (a strong responder can make its arm lead overall); with nothing carved out
    it is the best single arm itself."""
    if not segments:
        return best  # every segment was carved out
    arms = set.intersection(*(set(lifts[s]) for s in segments))
    total = {a: sum(weights[s] * lifts[s][a] for s in segments) for a in arms}
    return max(sorted(total), key=lambda a: total[a]) if total else best


def recommend(explorations: dict[str, Exploration], *, control: str, dimension: str, metric: str = "") -> Policy:
    """The policy over ``dimension``'s segments from one exploration per treatment arm (vs ``control``)."""
    if not explorations:
        raise ValueError("a policy needs at least one treatment arm's exploration")
    overall = {arm: ex.overall_lift if ex.overall_lift is not None else -math.inf for arm, ex in explorations.items()}
    best = max(overall, key=lambda a: overall[a])
    if overall[best] <= 0:
        best = control
    rows = {arm: _segment_rows(ex, dimension) for arm, ex in explorations.items()}
    segments = sorted(set().union(*(r.keys() for r in rows.values())))
    lifts: dict[str, dict[str, float]] = {}
    variances: dict[str, dict[str, float]] = {}
    weights: dict[str, float] = {}
    called: set[str] = set()
    for seg in segments:
        cells = {arm: r[seg] for arm, r in rows.items() if seg in r}
        lifts[seg] = {control: 0.0, **{a: float(c.shrunk_lift or 0.0) for a, c in cells.items()}}
        variances[seg] = {control: 0.0, **{a: float(c.shrunk_se or 0.0) ** 2 for a, c in cells.items()}}
        weights[seg] = max(c.weight for c in cells.values())
        if best in lifts[seg] and any(c.significant for c in cells.values()):
            called.add(seg)
    rest = _best_for(best, [s for s in segments if s not in called and best in lifts[s]], lifts, weights) \
        if called else best
    choices: list[SegmentChoice] = []
    gain = var = 0.0
    for seg in segments:
        lift, weight = lifts[seg], weights[seg]
        if seg in called:
            arm = max(lift, key=lambda a: lift[a])
            reason = ("an FDR-significant difference in this segment: the arm with the largest shrunk lift"
                      if arm != best else "FDR-significant, but the best single arm still leads")
        elif best not in lift:
            arm, reason = best, "the best single arm was not estimable in this segment"
        elif rest != best and rest in lift:
            arm, reason = rest, ("no FDR-significant difference in this segment: the arm with the largest "
                                 "shrunk lift over the segments without one")
        else:
            arm, reason = best, "no FDR-significant difference in this segment: the best single arm"
        choices.append(SegmentChoice(seg, arm, lift.get(arm, 0.0), weight, reason))
        if arm != best and best in lift:
            gain += weight * (lift[arm] - lift[best])
            var += weight**2 * (variances[seg][arm] + variances[seg][best])
    return Policy(metric, dimension, control, best, choices, gain, math.sqrt(var), default=rest)

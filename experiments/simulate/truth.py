"""Ground truth of a simulated experiment: each arm's metric values as ratios of expectations.

The simulator draws every exposure's click, order and refund from probabilities it knows.
For the truth it evaluates those probabilities for *every* arm on *every* simulated user
(potential outcomes), so that e.g. the true CTR of arm a is

    Σ_exposures P(attributed click | arm a) / Σ exposures

over the spec's window — what the analysis estimates from the half of the users that were
really assigned to a. "Attributed" uses the delay model below and the spec's windows, so the
truth of `ctr` already accounts for clicks that arrive after the click window.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats as sps

# Per-arm sums accumulated over chunks (all expectations except the counts).
SUM_KEYS = ("users", "exposures", "clicks", "orders", "revenue", "net_revenue", "refunded_orders", "converted")


@dataclass(frozen=True)
class DelayModel:
    """Delays of user actions after the exposure (seconds).

    click: a mixture — most clicks come seconds after the exposure (lognormal, median
    ``click_median``), a share ``click_late_share`` comes back later, uniform in
    [``late_lo``, ``late_hi``] (some beyond a 1-hour click window).
    order: after the click, lognormal with median ``order_median`` (minutes to hours; a few
    beyond 24 hours).
    """

    click_median: float = 15.0
    click_sigma: float = 1.2
    click_late_share: float = 0.03
    late_lo: float = 600.0
    late_hi: float = 3 * 3600.0
    order_median: float = 1800.0
    order_sigma: float = 1.8

    def sample_click(self, rng: np.random.Generator, n: int) -> np.ndarray:
        fast = rng.lognormal(math.log(self.click_median), self.click_sigma, n)
        late = rng.uniform(self.late_lo, self.late_hi, n)
        return np.where(rng.random(n) < self.click_late_share, late, fast)

    def sample_order(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.lognormal(math.log(self.order_median), self.order_sigma, n)

    def click_cdf(self, w: np.ndarray | float) -> np.ndarray:
        w = np.maximum(np.asarray(w, dtype=float), 1e-9)
        fast = sps.norm.cdf((np.log(w) - math.log(self.click_median)) / self.click_sigma)
        late = np.clip((w - self.late_lo) / (self.late_hi - self.late_lo), 0.0, 1.0)
        return (1 - self.click_late_share) * fast + self.click_late_share * late

    def order_cdf(self, w: np.ndarray | float) -> np.ndarray:
        w = np.maximum(np.asarray(w, dtype=float), 1e-9)
        return sps.norm.cdf((np.log(w) - math.log(self.order_median)) / self.order_sigma)

    def click_then_order_cdf(self, w: float, k: int = 200_000) -> float:
        """P(click delay + order delay <= w), by quadrature over the click delay's quantiles."""
        q = (np.arange(k) + 0.5) / k
        fast = np.exp(math.log(self.click_median) + self.click_sigma * sps.norm.ppf(q))
        late = self.late_lo + q * (self.late_hi - self.late_lo)
        pf = self.order_cdf(w - fast).mean()
        pl = self.order_cdf(w - late).mean()
        return float((1 - self.click_late_share) * pf + self.click_late_share * pl)


def attribution_probs(delays: DelayModel, click_window: dt.timedelta, order_window: dt.timedelta) -> tuple[float, float]:
    """(P(click counted | click), P(order counted | order)) under the spec's windows."""
    return (float(delays.click_cdf(click_window.total_seconds())),
            delays.click_then_order_cdf(order_window.total_seconds()))


@dataclass
class TruthAccumulator:
    """Sums of expectations per arm (and per arm and day), added chunk by chunk."""

    arms: list[str]
    days: list[str]
    sums: dict[str, np.ndarray] = field(default_factory=dict)  # key -> (n_arms,)
    # The arrays are zeros sized from arms, days and segments (made in __post_init__).
    day_clicks: np.ndarray = field(init=False)  # (n_arms, n_days)
    day_exposures: np.ndarray = field(init=False)  # (n_days,)
    segments: list[str] = field(default_factory=list)  # user segments (personas), for per-segment truth
    seg_clicks: np.ndarray = field(init=False)  # (n_arms, n_segments): expected attributed clicks
    seg_orders: np.ndarray = field(init=False)  # (n_arms, n_segments): expected attributed orders
    seg_exposures: np.ndarray = field(init=False)  # (n_segments,)

    def __post_init__(self) -> None:
        for k in SUM_KEYS:
            self.sums.setdefault(k, np.zeros(len(self.arms)))
        self.day_clicks = np.zeros((len(self.arms), len(self.days)))
        self.day_exposures = np.zeros(len(self.days))
        self.seg_clicks = np.zeros((len(self.arms), len(self.segments)))
        self.seg_orders = np.zeros((len(self.arms), len(self.segments)))
        self.seg_exposures = np.zeros(len(self.segments))

    def add_segments(self, a: int, seg: np.ndarray, clicks: np.ndarray, orders: np.ndarray) -> None:
        """Expected clicks and orders of arm ``a`` per segment code (codes outside the list: no segment)."""
        k = len(self.segments)
        if not k:
            return
        ok = (seg >= 0) & (seg < k)
        self.seg_clicks[a] += np.bincount(seg[ok], weights=clicks[ok], minlength=k)
        self.seg_orders[a] += np.bincount(seg[ok], weights=orders[ok], minlength=k)

    def by_segment(self, control: str) -> dict[str, Any]:
        """Per segment: each arm's true CTR and its relative lift over the control (potential outcomes)."""
        c = self.arms.index(control)
        out: dict[str, Any] = {}
        for j, seg in enumerate(self.segments):
            ctr = {arm: _ratio(self.seg_clicks[a, j], self.seg_exposures[j]) for a, arm in enumerate(self.arms)}
            base, base_orders = self.seg_clicks[c, j], self.seg_orders[c, j]
            out[seg] = {
                "exposures": float(self.seg_exposures[j]),
                "ctr": ctr,
                "rel_lift": {arm: {"ctr": None if not base else float(self.seg_clicks[a, j] / base - 1),
                                   "orders": None if not base_orders else float(self.seg_orders[a, j] / base_orders - 1)}
                             for a, arm in enumerate(self.arms) if arm != control},
            }
        return out

    def add(self, a: int, **values: float) -> None:
        for k, v in values.items():
            self.sums[k][a] += v

    def merge(self, other: TruthAccumulator) -> None:
        for k in SUM_KEYS:
            self.sums[k] += other.sums[k]
        self.day_clicks += other.day_clicks
        self.day_exposures += other.day_exposures
        if len(other.segments) == len(self.segments):
            self.seg_clicks += other.seg_clicks
            self.seg_orders += other.seg_orders
            self.seg_exposures += other.seg_exposures

    def metrics(self) -> dict[str, dict[str, float | None]]:
        s = self.sums
        out: dict[str, dict[str, float | None]] = {}
        for a, arm in enumerate(self.arms):
            users, exposures, clicks, orders = s["users"][a], s["exposures"][a], s["clicks"][a], s["orders"][a]
            out[arm] = {
                "ctr": _ratio(clicks, exposures),
                "cvr": _ratio(orders, clicks),
                "conversion_rate": _ratio(s["converted"][a], users),
                "orders_per_user": _ratio(orders, users),
                "revenue_per_user": _ratio(s["revenue"][a], users),
                "net_revenue_per_user": _ratio(s["net_revenue"][a], users),
                "clicks_per_user": _ratio(clicks, users),
                "refund_rate": _ratio(s["refunded_orders"][a], orders),
            }
        return out

    def to_json(self, control: str, **meta: Any) -> dict[str, Any]:
        """{"arms": {arm: {metric: value}}, "lift": {arm: {metric: rel}}, "by_day": ..., "expected": ...}."""
        arms = self.metrics()
        lift: dict[str, dict[str, float | None]] = {}
        for arm, vals in arms.items():
            if arm == control:
                continue
            lift[arm] = {m: _rel_lift(v, arms[control][m]) for m, v in vals.items()}
        by_day = {
            day: {arm: {"ctr": _ratio(self.day_clicks[a, d], self.day_exposures[d]),
                        "exposures": float(self.day_exposures[d])} for a, arm in enumerate(self.arms)}
            for d, day in enumerate(self.days)
        }
        expected = {arm: {k: float(self.sums[k][a]) for k in SUM_KEYS} for a, arm in enumerate(self.arms)}
        return {"arms": arms, "control": control, "rel_lift": lift, "by_day": by_day,
                "by_segment": self.by_segment(control), "expected_sums": expected, **meta}


def _ratio(num: float, den: float) -> float | None:
    return float(num / den) if den > 0 else None


def _rel_lift(value: float | None, base: float | None) -> float | None:
    return None if value is None or not base else value / base - 1.0

"""One sample size for the experiment: the number `abkit plan`, analyze, the report and the demo share.

    plan = plan_for_spec(spec, history_stats)   # history: the primary metric's sufficient statistics
    plan.per_arm, plan.total, plan.explanation  # users per arm, users in all arms, why (zh/en Messages)

Steps (docs/statistics.md, Planning):
1. the fixed-horizon size of one two-sided test (abkit.stats.power.sample_size_per_arm: Evan
   Miller's formula for a proportion, (z_α/2 + z_β)²·2σ²/δ² for a mean or ratio);
2. multiplicity: with k treatment arms each compared with control, alpha is split Bonferroni-style
   (alpha/k per test). Holm rejects at least what Bonferroni does, so for Holm this plan is
   conservative; with correction "none" alpha is not split;
3. CUPED: the regression on the pre-period covariate removes the share ρ² of the per-user variance
   (ρ the correlation of the metric, or the ratio's linearization, with the covariate in the
   history), so the size is multiplied by (1 − ρ²);
4. sequential: an always-valid test rejects when the estimate leaves the confidence sequence, so
   z_α/2 becomes the sequence's critical value at the planned N (half-width / se, computed from
   abkit.stats.sequential.confidence_sequence, ≈ 3.04 instead of 1.96 at alpha 0.05 when N* = N);
   `sequential_inflation` is the resulting ratio of sizes.
N* (`tuning_n`) defaults to the planned users of one comparison: per_arm × 2, the N that
abkit.stats.sequential counts (users of the two arms compared); a spec's `sequential.tuning_n`
overrides it. `total` is per_arm at the smallest arm's weight: per_arm × arms for equal weights.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from abkit.messages import Message
from abkit.metrics import METRICS, MetricKind
from abkit.spec import Spec
from abkit.stats.means import mean_moments
from abkit.stats.power import historical_baseline_and_variance, power_at, sample_size_per_arm
from abkit.stats.ratio import ratio_moments
from abkit.stats.sequential import confidence_sequence
from abkit.stats.types import SufficientStats
from abkit.stats.util import normal_quantile


@dataclass(frozen=True)
class Baseline:
    """The primary metric before the experiment: value, per-user variance (None: a proportion's
    p(1−p) in Evan Miller's formula) and ρ², the share of variance the CUPED covariate explains."""

    kind: MetricKind
    value: float
    variance: float | None = None
    rho2: float = 0.0
    n: int | None = None

    @classmethod
    def from_stats(cls, stats: SufficientStats, kind: MetricKind) -> Baseline:
        value, variance = historical_baseline_and_variance(stats)
        return cls(kind, value, None if kind == "proportion" else variance, _rho2(stats), stats.n)


def _rho2(s: SufficientStats) -> float:
    """Squared correlation of the per-user value (a ratio's linearization) with the covariate."""
    if not s.has_covariate or s.n < 3 or (s.is_ratio and (s.sum_xd is None or not s.sum_d)):
        return 0.0
    m = ratio_moments(s) if s.is_ratio else mean_moments(s)
    if m.var_x is None or m.cov_lx is None or not m.var_x > 0 or not m.var_l > 0:
        return 0.0
    return min(max(m.cov_lx * m.cov_lx / (m.var_l * m.var_x), 0.0), 1.0)


@dataclass(frozen=True)
class SamplePlan:
    """Users needed, with the inputs and each adjustment (ratios of sizes) that led there."""

    per_arm: int
    total: int  # users in the experiment at the spec's weights (per_arm × arms when equal)
    eligible: int  # users to reach at the spec's coverage (total / coverage)
    metric: str
    kind: MetricKind
    baseline: float
    variance: float | None
    mde: float
    alpha: float
    alpha_per_test: float
    tests: int  # treatment arms each compared with control
    correction: str
    power: float
    per_arm_single_test: float  # step 1, unrounded
    multiplicity_factor: float  # step 2: size at alpha/k over size at alpha
    cuped_variance_reduction: float  # step 3: ρ² (0 without CUPED)
    sequential: bool
    tuning_n: int | None  # N* used (sequential only)
    critical_value: float  # z_α/2, or the sequence's half-width / se at the planned N
    sequential_inflation: float  # step 4: sequential size over fixed size (1 when off)
    explanation: list[Message] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def text(self) -> str:
        return " ".join(m.text for m in self.explanation)

    def power_at(self, users_per_arm: float) -> float:
        """Power at the MDE with `users_per_arm` under this plan's alpha split, CUPED and critical value."""
        if users_per_arm <= 0:
            return 0.0
        effective = users_per_arm / (1 - self.cuped_variance_reduction)
        return power_at(effective, self.kind, self.baseline, self.mde, alpha=self.alpha_per_test,
                        variance=self.variance, critical_value=self.critical_value)


def sequential_critical_value(n_pair: float, alpha: float, tuning_n: float | None = None) -> float:
    """Half-width / se of the always-valid sequence after `n_pair` users (N* = n_pair by default)."""
    return confidence_sequence(0.0, 1.0, max(int(round(n_pair)), 1), tuning_n=tuning_n or n_pair, alpha=alpha)[1]


def plan_sample(baseline: Baseline, *, mde: float, alpha: float = 0.05, power: float = 0.8, arms: int = 2,
                weights: list[float] | None = None, coverage: float = 1.0, correction: str = "holm",
                cuped: bool = True, sequential: bool = False, tuning_n: int | None = None,
                metric: str = "primary") -> SamplePlan:
    """Users per arm for `mde` (relative) at `power`, steps 1–4 of the module docstring."""
    if arms < 2:
        raise ValueError(f"an experiment needs at least 2 arms, got {arms}")
    tests = arms - 1
    split = tests if correction != "none" else 1
    alpha_t = alpha / split
    kw: dict[str, Any] = dict(power=power, variance=baseline.variance)
    single = sample_size_per_arm(baseline.kind, baseline.value, mde, alpha=alpha, **kw)
    fixed = sample_size_per_arm(baseline.kind, baseline.value, mde, alpha=alpha_t, **kw)
    rho2 = baseline.rho2 if cuped else 0.0
    if rho2 >= 1:
        raise ValueError("the covariate explains all of the variance (ρ² = 1); nothing is left to test")
    n = fixed * (1 - rho2)
    crit = normal_quantile(1 - alpha_t / 2)
    n_star: int | None = None
    if sequential:
        for _ in range(100):  # fixed point: the critical value depends (slowly) on the planned N
            crit = sequential_critical_value(2 * n, alpha_t, tuning_n)
            new = sample_size_per_arm(baseline.kind, baseline.value, mde, alpha=alpha_t, critical_value=crit,
                                      **kw) * (1 - rho2)
            if abs(new - n) < 1e-6 * n:
                n = new
                break
            n = new
        n_star = tuning_n or 2 * math.ceil(n)
    per_arm = math.ceil(n - 1e-9)
    w = [x / sum(weights) for x in weights] if weights else [1 / arms] * arms
    total = math.ceil(per_arm / min(w) - 1e-9)
    plan = SamplePlan(
        per_arm=per_arm, total=total, eligible=math.ceil(total / coverage - 1e-9), metric=metric,
        kind=baseline.kind, baseline=baseline.value, variance=baseline.variance, mde=mde, alpha=alpha,
        alpha_per_test=alpha_t, tests=tests, correction=correction, power=power, per_arm_single_test=single,
        multiplicity_factor=fixed / single, cuped_variance_reduction=rho2, sequential=sequential,
        tuning_n=n_star, critical_value=crit, sequential_inflation=n / (fixed * (1 - rho2)))
    return SamplePlan(**{**asdict(plan), "explanation": _explain(plan)})


def _explain(p: SamplePlan) -> list[Message]:
    M = Message.of
    out = [M("plan_single", metric=p.metric, kind_term=p.kind, baseline=p.baseline, mde=p.mde, alpha=p.alpha,
             power=p.power, n=math.ceil(p.per_arm_single_test))]
    if p.tests > 1:
        out.append(M("plan_multiplicity" if p.correction != "none" else "plan_no_split", tests=p.tests,
                     alpha_t=p.alpha_per_test, factor=p.multiplicity_factor, correction_term=p.correction))
    if p.cuped_variance_reduction > 0:
        out.append(M("plan_cuped", reduction=p.cuped_variance_reduction))
    if p.sequential:
        out.append(M("plan_sequential", crit=p.critical_value, factor=p.sequential_inflation, tuning_n=p.tuning_n))
    out.append(M("plan_result", per_arm=p.per_arm, total=p.total, eligible=p.eligible))
    return out


def plan_for_spec(spec: Spec, history: SufficientStats | Baseline) -> SamplePlan | None:
    """The plan of a spec from the primary metric's history; None when the spec has no `mde`
    (a spec's `planned_users_per_arm` is then the plan, see `planned_users_per_arm`)."""
    if spec.mde is None:
        return None
    m = METRICS[spec.primary_metric]
    baseline = history if isinstance(history, Baseline) else Baseline.from_stats(history, m.kind)
    return plan_sample(baseline, mde=spec.mde, alpha=spec.alpha, power=spec.power, arms=len(spec.arms),
                       weights=spec.weights, coverage=spec.coverage, correction=spec.correction,
                       cuped=spec.cuped and m.covariate is not None, sequential=spec.sequential.enabled,
                       tuning_n=spec.sequential.tuning_n, metric=spec.primary_metric)


def planned_users_per_arm(spec: Spec, plan: SamplePlan | None) -> int | None:
    """The one planned sample per arm: the spec's `planned_users_per_arm` if set, else the plan's."""
    if spec.planned_users_per_arm is not None:
        return spec.planned_users_per_arm
    return plan.per_arm if plan is not None else None


def tuning_n(spec: Spec, planned_per_arm: int | None) -> int | None:
    """N* of the confidence sequence: the spec's `sequential.tuning_n`, else the planned users of
    one comparison (planned per arm × 2); None (the engine's fallback) when there is no plan."""
    if spec.sequential.tuning_n is not None:
        return spec.sequential.tuning_n
    return None if planned_per_arm is None else 2 * planned_per_arm

"""Value types of the stats engine: per-arm sufficient statistics in, plain result records out.

The warehouse computes these sums in SQL over one row per user; nothing here ever sees a row.
Following gbstats: a mean metric needs (n, Σy, Σy²); a ratio metric Σy/Σd adds (Σd, Σd², Σyd);
CUPED adds the covariate x: (Σx, Σx², Σxy) and, for ratios, Σxd.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class SufficientStats:
    """Sums over the n users of one arm for one metric.

    y: the per-user numerator (clicks, revenue, converted 0/1, ...)
    d: the per-user denominator of a ratio metric (exposures for CTR); None for means
    x: the per-user pre-period covariate for CUPED; None when absent
    """

    n: int
    sum_y: float
    sum_y2: float
    sum_d: float | None = None
    sum_d2: float | None = None
    sum_yd: float | None = None
    sum_x: float | None = None
    sum_x2: float | None = None
    sum_xy: float | None = None
    sum_xd: float | None = None

    @property
    def is_ratio(self) -> bool:
        return self.sum_d is not None

    @property
    def has_covariate(self) -> bool:
        return self.sum_x is not None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TestResult:
    """One comparison of treatment against a baseline; None where a value cannot be estimated."""

    __test__ = False  # not a pytest test class, despite the name

    control_value: float | None
    treatment_value: float | None
    abs_lift: float | None
    abs_ci_low: float | None
    abs_ci_high: float | None
    rel_lift: float | None
    rel_ci_low: float | None
    rel_ci_high: float | None
    p_value: float | None
    se: float | None = None
    df: float | None = None
    cuped: bool = False
    variance_reduction: float = 0.0
    theta: float | None = None
    warning: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    rel_se: float | None = None  # standard error of rel_lift (delta method); tests/bounds reuse it
    # below the small-sample rule (abkit.stats.smallsample): never decides, ships or passes by itself
    small_sample: bool = False

    @property
    def estimable(self) -> bool:
        """True when the normal approximation holds and the relative lift has a standard error."""
        return not self.small_sample and self.rel_se is not None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

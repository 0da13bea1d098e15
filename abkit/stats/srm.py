"""Sample ratio mismatch: Pearson χ² of analysis users per arm against the configured weights."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from scipy import special


@dataclass(frozen=True)
class SrmResult:
    chi2: float
    p_value: float
    ok: bool
    expected: list[float]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def srm_test(observed: Sequence[int], weights: Sequence[float], threshold: float = 0.001) -> SrmResult:
    """χ² goodness of fit with k-1 df; weights are normalized to 1; p < threshold is a mismatch."""
    if len(observed) != len(weights) or len(observed) < 2:
        raise ValueError("srm_test needs one observed count and one weight per arm, at least two arms")
    if any(w <= 0 or not math.isfinite(w) for w in weights):
        raise ValueError(f"SRM weights must be positive and finite, got {list(weights)}")
    if any(o < 0 for o in observed):
        raise ValueError(f"SRM counts must be non-negative, got {list(observed)}")
    total = float(sum(observed))
    wsum = float(sum(weights))
    expected = [total * w / wsum for w in weights]
    if total == 0:
        return SrmResult(0.0, 1.0, True, expected)
    chi2 = sum((o - e) ** 2 / e for o, e in zip(observed, expected, strict=True))
    p = float(special.chdtrc(len(observed) - 1, chi2))
    return SrmResult(float(chi2), p, p >= threshold, expected)

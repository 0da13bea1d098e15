"""Significance with its direction: the one rule behind every tick, colour and verdict.

A row is significant when its (multiplicity-adjusted) p-value is strictly below alpha — in
sequential mode the always-valid `seq_p_value_adjusted` — and the row is not below the
small-sample rule; the direction comes from the sign of the lift and whether higher is better,
so a significantly worse result is never shown as a success (docs/statistics.md).
"""

from __future__ import annotations

from typing import Literal

Direction = Literal["better", "worse"]


def significance(p_adjusted: float | None, lift: float | None, alpha: float, *, higher_is_better: bool = True,
                 small_sample: bool = False) -> Direction | None:
    """'better', 'worse', or None when not significant (or not testable)."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if small_sample or p_adjusted is None or lift is None or not p_adjusted < alpha or lift == 0:
        return None
    return "better" if (lift > 0) == higher_is_better else "worse"

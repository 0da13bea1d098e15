"""The stats engine: pure functions on per-arm sufficient statistics (no I/O, no rows)."""

from abkit.stats.bayes import chance_to_beat
from abkit.stats.compare import compare
from abkit.stats.multiplicity import adjust_pvalues
from abkit.stats.noninferiority import NonInferiority, noninferiority, shown_worse
from abkit.stats.power import days_needed, mde_at, power_at, sample_size_per_arm
from abkit.stats.ratio import RatioInterval, ratio_interval, ratio_variance
from abkit.stats.sequential import (
    SequentialDesign,
    SequentialResult,
    confidence_sequence,
    one_sided_bound,
    one_sided_p_value,
    sequential,
    sequential_p_value,
)
from abkit.stats.significance import significance
from abkit.stats.srm import SrmResult, srm_test
from abkit.stats.types import SufficientStats, TestResult
from abkit.stats.util import finite_or_none

__all__ = [
    "NonInferiority",
    "RatioInterval",
    "SequentialDesign",
    "SequentialResult",
    "SrmResult",
    "SufficientStats",
    "TestResult",
    "adjust_pvalues",
    "chance_to_beat",
    "compare",
    "confidence_sequence",
    "days_needed",
    "finite_or_none",
    "mde_at",
    "noninferiority",
    "one_sided_bound",
    "one_sided_p_value",
    "power_at",
    "ratio_interval",
    "ratio_variance",
    "sample_size_per_arm",
    "sequential",
    "sequential_p_value",
    "shown_worse",
    "significance",
    "srm_test",
]

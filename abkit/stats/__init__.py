"""The stats engine: pure functions on per-arm sufficient statistics (no I/O, no rows)."""

from abkit.stats.types import SufficientStats, TestResult

__all__ = ["SufficientStats", "TestResult"]

"""abkit: trustworthy A/B experiments for AI-generated product recommendation reasons.

The core's public entry points, importable from the package itself::

    import abkit

    spec = abkit.load_spec("experiment.yaml")
    with abkit.open_warehouse("abkit.duckdb") as con:
        ...
    result = abkit.compare(control, treatment)      # two abkit.SufficientStats

The analysis pipeline that runs a spec against a warehouse lives in ``experiments.analysis``
(``experiments.analysis.analyze.analyze(spec, con)``); the core does not import it.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any

from abkit.errors import AbkitError

if TYPE_CHECKING:  # the same names, imported on first use (below) so that `abkit --help` stays fast
    from abkit.decision import Decision, decide
    from abkit.spec import Spec, SpecError, load_spec, parse_spec
    from abkit.stats import (
        SrmResult,
        SufficientStats,
        TestResult,
        adjust_pvalues,
        compare,
        days_needed,
        noninferiority,
        sample_size_per_arm,
        sequential,
        srm_test,
    )
    from abkit.warehouse import WarehouseError, connect, open_warehouse

__version__ = "0.1.0"

_DECISION = {"Decision", "decide"}
_SPEC = {"Spec", "SpecError", "load_spec", "parse_spec"}
_STATS = {"SrmResult", "SufficientStats", "TestResult", "adjust_pvalues", "compare", "days_needed",
          "noninferiority", "sample_size_per_arm", "sequential", "srm_test"}
_WAREHOUSE = {"WarehouseError", "connect", "open_warehouse"}


def __getattr__(name: str) -> Any:
    """Load an entry point's module on first use: pydantic, DuckDB and SciPy cost seconds to import,
    and every `abkit` command (even --help) imports this package first."""
    if name in _DECISION:
        from abkit import decision

        return _keep(name, decision)
    if name in _SPEC:
        from abkit import spec

        return _keep(name, spec)
    if name in _STATS:
        from abkit import stats

        return _keep(name, stats)
    if name in _WAREHOUSE:
        from abkit import warehouse

        return _keep(name, warehouse)
    raise AttributeError(f"module 'abkit' has no attribute {name!r}")


def _keep(name: str, home: ModuleType) -> Any:
    value = getattr(home, name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "AbkitError",
    "Decision",
    "Spec",
    "SpecError",
    "SrmResult",
    "SufficientStats",
    "TestResult",
    "WarehouseError",
    "__version__",
    "adjust_pvalues",
    "compare",
    "connect",
    "days_needed",
    "decide",
    "load_spec",
    "noninferiority",
    "open_warehouse",
    "parse_spec",
    "sample_size_per_arm",
    "sequential",
    "srm_test",
]

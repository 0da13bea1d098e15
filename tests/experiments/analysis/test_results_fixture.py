"""Results unchanged: the committed fixture logs analyze to the committed expected JSON.

The expected files were written by the analysis before the orchestrator was split into steps;
a refactor must reproduce them (``computed_at`` aside): integers and strings exactly, floats to
1e-12 relative. A change meant to alter results regenerates them on purpose
(fixtures/regenerate.py) in a commit of its own.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import pytest

from abkit.result import AnalysisResult

FIXTURES = Path(__file__).parent / "fixtures"
sys.path.insert(0, str(FIXTURES))

from regenerate import CASES, analyze_case, expected_path  # noqa: E402

IGNORED = {"computed_at"}
# Top-level blocks added after the expected files were written; each must be listed here on purpose.
# health and planning: computed by the analysis since the report stopped querying / computing them.
ADDED = {"health", "planning"}


def differences(expected: Any, actual: Any, path: str = "$") -> list[str]:
    """Where ``actual`` departs from ``expected``: exact for everything but floats (1e-12 relative)."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return [] if expected is actual else [f"{path}: {expected!r} != {actual!r}"]
    if isinstance(expected, float) or isinstance(actual, float):
        ok = (isinstance(expected, float) and isinstance(actual, float)
              and math.isclose(expected, actual, rel_tol=1e-12, abs_tol=0.0))
        return [] if ok else [f"{path}: {expected!r} != {actual!r}"]
    if isinstance(expected, dict) and isinstance(actual, dict):
        out = [f"{path}.{k}: missing" for k in expected if k not in actual]
        out += [f"{path}.{k}: unexpected" for k in actual if k not in expected]
        for k in expected.keys() & actual.keys():
            out += differences(expected[k], actual[k], f"{path}.{k}")
        return out
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return [f"{path}: {len(expected)} items != {len(actual)}"]
        return [d for i, (e, a) in enumerate(zip(expected, actual, strict=True)) for d in differences(e, a, f"{path}[{i}]")]
    return [] if type(expected) is type(actual) and expected == actual else [f"{path}: {expected!r} != {actual!r}"]


def test_differences_catches_what_it_must() -> None:
    assert differences({"a": 1.0, "b": [1, "x"]}, {"a": 1.0 + 1e-14, "b": [1, "x"]}) == []
    assert differences({"a": 1.0}, {"a": 1.0 + 1e-9}) != []
    assert differences({"a": 1}, {"a": 1.0}) != []  # an int that became a float
    assert differences({"a": 1}, {"a": True}) != []
    assert differences({"a": None}, {"a": 0.0}) != []
    assert differences([1, 2], [2, 1]) != []
    assert differences({"a": 1}, {"a": 1, "b": 2}) != []


@pytest.mark.parametrize("case", list(CASES))
def test_analysis_json_unchanged(case: str, tmp_path: Path) -> None:
    expected = json.loads(expected_path(case).read_text(encoding="utf-8"))
    actual = analyze_case(case, tmp_path)
    assert AnalysisResult.from_json(actual).to_json() == actual  # a fresh result round-trips too
    for key in IGNORED:
        expected.pop(key, None), actual.pop(key, None)
    assert set(actual) - set(expected) <= ADDED, "a new top-level key: list it in ADDED or regenerate on purpose"
    actual = {k: v for k, v in actual.items() if k in expected}
    diffs = differences(expected, actual)
    assert not diffs, f"{len(diffs)} differences, first: " + "; ".join(diffs[:10])

"""Shared report fixtures: a realistic analysis result (docs/interface.md, Analysis JSON), its history,
and an XSS-laden variant, as typed results (abkit/result.py)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from abkit.result import AnalysisResult
from abkit.spec import Spec, parse_spec

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parents[2]

# Payloads that set a window flag if they ever execute.
XSS_IMG = '<img src=x onerror="window.__xss=1">'
XSS_SCRIPT = "<script>window.__xss=2</script>"
XSS_BREAKOUT = "</script><script>window.__xss=3</script>"
ARM_IMG = f"生成{XSS_IMG}"
ARM_SCRIPT = f"{XSS_SCRIPT}个性化"


def _spec_dict() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "experiments" / "reason_three_arm.yaml").read_text(encoding="utf-8"))


@pytest.fixture
def spec() -> Spec:
    return parse_spec(_spec_dict())


@pytest.fixture
def result_data() -> dict[str, Any]:
    return json.loads((FIXTURES / "result.json").read_text(encoding="utf-8"))


@pytest.fixture
def result(result_data: dict[str, Any]) -> AnalysisResult:
    return AnalysisResult.from_json(result_data)


@pytest.fixture
def history_data() -> list[dict[str, Any]]:
    return json.loads((FIXTURES / "history.json").read_text(encoding="utf-8"))


@pytest.fixture
def history(history_data: list[dict[str, Any]]) -> list[AnalysisResult]:
    return [AnalysisResult.from_json(h) for h in history_data]


@pytest.fixture
def sql() -> str:
    """The SQL appendix the CLI passes (the fixture result stores it under ``sql``)."""
    return str(json.loads((FIXTURES / "result.json").read_text(encoding="utf-8"))["sql"]["attribution"])


def _rename(obj: Any, names: dict[str, str]) -> Any:
    """Rename arms wherever they appear as a whole string value or a mapping key."""
    if isinstance(obj, dict):
        return {names.get(k, k): _rename(v, names) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_rename(v, names) for v in obj]
    if isinstance(obj, str):
        return names.get(obj, obj)
    return obj


NAMES = {"neural_generic": ARM_IMG, "neural_personalized": ARM_SCRIPT}


@pytest.fixture
def xss_spec() -> Spec:
    d = _spec_dict()
    for arm in d["arms"]:
        arm["name"] = NAMES.get(arm["name"], arm["name"])
    d["comparisons"] = [[NAMES[a], NAMES[b]] for a, b in d["comparisons"]]
    d["name"] = f"实验 {XSS_SCRIPT}"
    d["hypothesis"] = XSS_IMG
    return parse_spec(d)


@pytest.fixture
def xss_result(result_data: dict[str, Any]) -> AnalysisResult:
    r = _rename(copy.deepcopy(result_data), NAMES)
    r["decision"]["reasons"] = [*r["decision"]["reasons"], f"理由 {XSS_SCRIPT}", f"reason {XSS_IMG}", XSS_BREAKOUT]
    r["samples"].append({"arm": ARM_SCRIPT, "segment": XSS_IMG, "item_id": XSS_BREAKOUT, "text": f"好物{XSS_SCRIPT}"})
    r["breakdowns"]["platform"][0]["value"] = XSS_IMG
    r["notes"] = [XSS_BREAKOUT]
    r["metrics"][0]["warning"] = XSS_IMG
    r["guardrails"][0]["warning"] = XSS_SCRIPT
    r["text_guardrails"][0]["rule"] = XSS_IMG
    return AnalysisResult.from_json(r)


@pytest.fixture
def xss_sql() -> str:
    return f"SELECT '{XSS_BREAKOUT}'"


@pytest.fixture
def xss_history(history_data: list[dict[str, Any]]) -> list[AnalysisResult]:
    return [AnalysisResult.from_json(h) for h in _rename(copy.deepcopy(history_data), NAMES)]


@pytest.fixture
def payloads() -> dict[str, str]:
    return {"img": XSS_IMG, "script": XSS_SCRIPT, "breakout": XSS_BREAKOUT, "arm_img": ARM_IMG, "arm_script": ARM_SCRIPT}

"""The typed analysis result: stored JSON round-trips exactly; fields read what the analysis decided."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from abkit.result import AnalysisResult, GuardrailRow, MetricRow

ROOT = Path(__file__).resolve().parents[2]
STORED = [ROOT / "tests/reports/fixtures/result.json",
          ROOT / "tests/experiments/analysis/fixtures/expected_full.json",
          ROOT / "tests/experiments/analysis/fixtures/expected_as_of.json"]


@pytest.mark.parametrize("path", STORED, ids=lambda p: p.name)
def test_stored_result_round_trips(path: Path) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    result = AnalysisResult.from_json(data)
    assert result.to_json() == data
    assert json.dumps(result.to_json(), sort_keys=True) == json.dumps(data, sort_keys=True)


def test_history_entries_with_few_keys_round_trip() -> None:
    for entry in json.loads((ROOT / "tests/reports/fixtures/history.json").read_text(encoding="utf-8")):
        r = AnalysisResult.from_json(entry)
        assert r.to_json() == entry  # absent keys stay absent (no defaults written back)
        assert r.time == (entry.get("as_of") or entry.get("computed_at"))


def test_unknown_keys_survive_at_every_level() -> None:
    data = json.loads(STORED[1].read_text(encoding="utf-8"))
    data["future_block"] = {"x": [1, 2]}
    data["metrics"][0]["future_field"] = "y"
    data["breakdowns"]["platform"][0]["future_field"] = 3
    data["diversity"]["control"]["new_metric"] = 0.5
    data["srm"]["observed"] = [1, 2, 3]
    r = AnalysisResult.from_json(copy.deepcopy(data))
    assert r.to_json() == data
    assert r.extra["future_block"] == {"x": [1, 2]} and r.metrics[0].extra["future_field"] == "y"


def test_from_json_does_not_share_mutable_state() -> None:
    data = json.loads(STORED[0].read_text(encoding="utf-8"))
    r = AnalysisResult.from_json(data)
    data["users"]["control"] = -1
    assert r.users["control"] != -1
    out = r.to_json()
    out["users"]["control"] = -2
    assert r.users["control"] != -2


def test_fields_are_typed_and_frames_have_one_row_per_record() -> None:
    r = AnalysisResult.from_json(json.loads(STORED[1].read_text(encoding="utf-8")))
    assert isinstance(r.metrics, tuple) and all(isinstance(m, MetricRow) for m in r.metrics)
    assert r.srm.expected and isinstance(r.srm.expected, tuple)
    frame = r.to_frame()
    assert len(frame) == len(r.metrics) and {"metric", "arm", "baseline", "significant"} <= set(frame.columns)
    bd = r.breakdown_frame("platform")
    assert len(bd) == len(r.breakdowns["platform"]) and set(bd["dimension"]) == {"platform"}
    assert r.breakdown_frame("nope").empty
    assert [x.arm for x in r.rows_vs_control("ctr")] == ["generic", "personal"]


def test_guardrail_status_reads_the_analysis_flags() -> None:
    assert GuardrailRow(non_inferior=True, shown_worse=False).status == "pass"
    assert GuardrailRow(non_inferior=False, shown_worse=True).status == "fail"
    assert GuardrailRow(non_inferior=False, shown_worse=False).status == "inconclusive"
    assert GuardrailRow().status == "inconclusive"


def test_lost_to_correction() -> None:
    assert MetricRow(p_value=0.01, p_value_adjusted=0.08, significant=False).lost_to_correction(0.05)
    assert not MetricRow(p_value=0.01, p_value_adjusted=0.02, significant=True).lost_to_correction(0.05)
    assert not MetricRow(p_value=0.2, p_value_adjusted=0.4, significant=False).lost_to_correction(0.05)


def test_not_an_object_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="expected a JSON object"):
        AnalysisResult.from_json([1, 2])  # type: ignore[arg-type]

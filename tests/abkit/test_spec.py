"""Spec loading and validation: every error is one line naming the file, the key and the problem."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from abkit.spec import SpecError, load_spec, parse_duration, parse_spec

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "experiments").glob("*.yaml"))

BASE = {
    "key": "exp_1",
    "arms": [{"name": "control", "weight": 0.5}, {"name": "neural", "weight": 0.5}],
    "start": "2026-11-01",
    "end": "2026-11-15",
    "primary_metric": "ctr",
}


def write(tmp_path: Path, data: dict) -> Path:
    p = tmp_path / "spec.yaml"
    p.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return p


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_load(path: Path) -> None:
    spec = load_spec(path)
    assert spec.control_arm == spec.arms[0].name
    assert abs(sum(spec.weights) - 1) < 1e-9


def test_defaults(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, BASE))
    assert spec.alpha == 0.05 and spec.cuped and spec.correction == "holm"
    assert spec.seed == "exp_1" and spec.hash_version == 2 and spec.coverage == 1.0
    assert spec.secondary == ["cvr", "conversion_rate", "orders_per_user", "revenue_per_user"]
    assert spec.click_window == dt.timedelta(hours=1) and spec.order_window == dt.timedelta(hours=24)
    assert spec.cuped_lookback == dt.timedelta(days=14)
    assert spec.window_utc() == (dt.datetime(2026, 11, 1), dt.datetime(2026, 11, 15))


def test_timezone_window(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, {**BASE, "timezone": "Asia/Shanghai"}))
    assert spec.window_utc() == (dt.datetime(2026, 10, 31, 16), dt.datetime(2026, 11, 14, 16))


def test_chinese_arm_names_and_control(tmp_path: Path) -> None:
    data = {**BASE, "arms": [{"name": "模板", "weight": 0.3}, {"name": "神经网络", "weight": 0.7}], "control": "神经网络"}
    spec = load_spec(write(tmp_path, data))
    assert spec.control_arm == "神经网络" and spec.treatment_arms == ["模板"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"key": "Bad-Key"}, "key: must match [a-z0-9_]+"),
        ({"arms": [{"name": "a", "weight": 0.5}, {"name": "b", "weight": 0}]}, "arms[1].weight: must be a positive number"),
        ({"arms": [{"name": "a", "weight": 0.5}, {"name": "b", "weight": -1}]}, "arms[1].weight: must be a positive number"),
        ({"arms": [{"name": "a", "weight": 0.5}, {"name": "b", "weight": float("inf")}]},
         "arms[1].weight: must be a positive number"),
        ({"arms": [{"name": "a", "weight": 0.5}, {"name": "a", "weight": 0.5}]}, "arms[1].name: duplicate arm name"),
        ({"end": "2026-10-01"}, "end: must be after start"),
        ({"primary_metric": "gmv"}, "primary_metric: unknown metric 'gmv'"),
        ({"secondary_metrics": ["cvr", "nope"]}, "secondary_metrics: [1]: unknown metric 'nope'"),
        ({"alpha": 0.7}, "alpha: must be between 0 and 0.5"),
        ({"control": "ghost"}, "control: 'ghost' is not an arm"),
        ({"timezone": "Mars/Base"}, "timezone: unknown time zone"),
        ({"click_window": "soon"}, "click_window: 'soon' is not a duration"),
        ({"colour": "red"}, "colour: unknown key"),
        ({"text_guardrails": ["unfaithful_rate <= banana"]}, "text_guardrails[0]"),
        ({"comparisons": [["neural", "ghost"]]}, "comparisons[0]: 'ghost' is not an arm"),
        ({"arms": [{"name": "a", "weight": 1.0}]}, "arms: List should have at least 2 items"),
        ({"covariates": {"attributes": ["segment", "platform"]}},
         "covariates.attributes: [1]: 'platform' is set at exposure time"),
        ({"covariates": {"numeric_attributes": ["pre sessions"]}}, "covariates.numeric_attributes: [0]: 'pre sessions'"),
        ({"covariates": {"pre_period": ["ctr", "gmv"]}}, "covariates.pre_period: [1]: unknown metric 'gmv'"),
        ({"covariates": {"max_levels": 1}}, "covariates.max_levels"),
        ({"heterogeneity": {"dimensions": ["segment", "category"]}},
         "heterogeneity.dimensions: [1]: 'category' is an item attribute"),
    ],
)
def test_invalid_specs_name_the_key(tmp_path: Path, change: dict, expected: str) -> None:
    path = write(tmp_path, {**BASE, **change})
    with pytest.raises(SpecError) as info:
        load_spec(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert expected in message


def test_missing_required_key(tmp_path: Path) -> None:
    data = dict(BASE)
    del data["primary_metric"]
    with pytest.raises(SpecError, match=r"primary_metric: required key is missing"):
        load_spec(write(tmp_path, data))


def test_not_yaml(tmp_path: Path) -> None:
    p = tmp_path / "x.yaml"
    p.write_text("key: [unclosed\n", encoding="utf-8")
    with pytest.raises(SpecError, match=r"not valid YAML at line"):
        load_spec(p)


def test_text_guardrail_forms(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, {**BASE, "text_guardrails": ["unfaithful_rate <= 0.01",
                                                                  {"metric": "distinct_2_at_n", "op": ">=", "value": "control"}]}))
    assert spec.text_guardrails[0].value == 0.01 and spec.text_guardrails[0].op == "<="
    assert spec.text_guardrails[1].value == "control"


def test_parse_duration() -> None:
    assert parse_duration("30min") == dt.timedelta(minutes=30)
    assert parse_duration("14d") == dt.timedelta(days=14)
    assert parse_duration(90) == dt.timedelta(seconds=90)


def test_cli_validate_exit_code(tmp_path: Path) -> None:
    bad = write(tmp_path, {**BASE, "alpha": 2})
    proc = subprocess.run([sys.executable, "-m", "abkit", "validate", str(bad)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "alpha" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("weights, expected", [
    ([1, 1], [0.5, 0.5]),
    ([0.333, 0.333, 0.333], [1 / 3] * 3),
    ([1, 2, 7], [0.1, 0.2, 0.7]),
    ([0.5, 0.4], [5 / 9, 4 / 9]),
    ([0.1, 0.2, 0.7], [0.1, 0.2, 0.7]),  # already summing to 1: the exact numbers are kept
])
def test_weights_are_normalized(weights, expected):
    spec = parse_spec({**BASE, "arms": [{"name": f"a{i}", "weight": w} for i, w in enumerate(weights)]})
    assert spec.weights == pytest.approx(expected, rel=1e-12) and abs(sum(spec.weights) - 1) < 1e-12
    assert [a.weight for a in spec.arms] == spec.weights  # every reader of the arms sees them normalized
    if weights == [0.1, 0.2, 0.7]:
        assert spec.weights == weights


def test_sequential_tuning_n_defaults_to_the_plan():
    assert parse_spec(BASE).sequential.tuning_n is None
    assert parse_spec({**BASE, "sequential": {"enabled": True, "tuning_n": 40000}}).sequential.tuning_n == 40000


def test_cli_validate_prints_the_normalized_weights(tmp_path: Path) -> None:
    path = write(tmp_path, {**BASE, "arms": [{"name": "a", "weight": 1}, {"name": "b", "weight": 3}]})
    proc = subprocess.run([sys.executable, "-m", "abkit", "validate", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "weights (normalized to 1): a 0.25, b 0.75" in proc.stdout

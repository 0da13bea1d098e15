"""docs/spec-reference.md is generated from the spec models and must match them."""

from __future__ import annotations

from pathlib import Path

from abkit.spec import Spec
from abkit.spec_reference import main, render

DOC = Path(__file__).resolve().parents[2] / "docs" / "spec-reference.md"


def test_committed_reference_equals_generated() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), "run: python -m abkit.spec_reference"


def test_every_key_of_every_model_is_documented_with_a_description() -> None:
    schema = Spec.model_json_schema()
    models = {"Spec": schema, **schema["$defs"]}
    text = render()
    for name, model in models.items():
        assert f"## {name}\n" in text
        for key, prop in model["properties"].items():
            assert prop.get("description"), f"{name}.{key} has no description"
            assert f"| `{key}` |" in text


def test_defaults_and_required_keys_come_from_the_models() -> None:
    text = render()
    assert "| `primary_metric` | string | **required** |" in text
    assert "| `alpha` | number | `0.05` |" in text
    assert "| `order_window` | duration | `24h` |" in text  # timedelta default, written as a spec would
    assert "| `correction` | \"holm\" \\| \"bh\" \\| \"none\" | `\"holm\"` |" in text  # pipes escaped in a table


def test_check_mode_reports_a_stale_file(tmp_path: Path) -> None:
    out = tmp_path / "ref.md"
    assert main(["--out", str(out), "--check"]) == 1
    assert main(["--out", str(out)]) == 0
    assert main(["--out", str(out), "--check"]) == 0
    out.write_text(out.read_text(encoding="utf-8").replace("`0.05`", "`0.1`"), encoding="utf-8")
    assert main(["--out", str(out), "--check"]) == 1

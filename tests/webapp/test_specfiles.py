"""The spec form's file side: edits keep comments and key order, errors match `abkit validate`, locks hold."""

from __future__ import annotations

from pathlib import Path

import pytest

from abkit.metrics import METRICS
from abkit.spec import SpecError, load_spec
from webapp import specfiles as S

ROOT = Path(__file__).resolve().parents[2]


def _form_from(path: Path, **overrides: str) -> dict[str, str]:
    """What the form posts for an existing spec file, unchanged unless overridden."""
    s = load_spec(path)
    form = {"key": s.key, "name": s.name or "", "owner": s.owner or "", "hypothesis": s.hypothesis or "",
            "start": str(s.start), "end": str(s.end), "timezone": s.timezone, "primary_metric": s.primary_metric,
            "alpha": str(s.alpha), "power": str(s.power), "mde": str(s.mde or ""), "coverage": str(s.coverage),
            "control": s.control or "", "text_guardrails": "\n".join(
                f"{g.metric} {g.op} {g.value if g.value == 'control' else g.value:g}" if g.value != "control"
                else f"{g.metric} {g.op} control" for g in s.text_guardrails),
            "dimensions": ", ".join(s.dimensions), "cuped": "on" if s.cuped else ""}
    for i, a in enumerate(s.arms):
        form |= {f"arms-{i}-name": a.name, f"arms-{i}-weight": str(a.weight),
                 f"arms-{i}-generator": a.generator.type if a.generator else "",
                 f"arms-{i}-personalized": "on" if a.generator and a.generator.personalized else ""}
    for i, g in enumerate(s.guardrails):
        form |= {f"guardrails-{i}-metric": g.metric, f"guardrails-{i}-margin": str(g.margin)}
    for m in s.secondary:
        form[f"secondary-{m}"] = "on"
    form.update(overrides)
    return form


def _save(path: Path, form: dict[str, str], locked: bool = False) -> str:
    doc = S.load_document(path)
    S.apply_form(doc, S.form_to_values(form, list(METRICS)), locked=locked)
    spec, key, problem = S.validate_document(doc, str(path))
    assert spec is not None, f"{key}: {problem}"
    S.save(path, doc)
    return path.read_text(encoding="utf-8")


def test_an_unchanged_form_leaves_the_file_byte_for_byte(tmp_path: Path) -> None:
    path = tmp_path / "reason_three_arm.yaml"
    original = (ROOT / "experiments" / "reason_three_arm.yaml").read_text(encoding="utf-8")
    path.write_text(original, encoding="utf-8")
    assert _save(path, _form_from(path)) == original


def test_an_edit_keeps_comments_order_and_unmanaged_keys(tmp_path: Path) -> None:
    path = tmp_path / "reason_three_arm.yaml"
    original = (ROOT / "experiments" / "reason_three_arm.yaml").read_text(encoding="utf-8")
    path.write_text(original.replace("key: reason_three_arm", "key: reason_three_arm   # the hash seed too"),
                    encoding="utf-8")
    text = _save(path, _form_from(path, name="新名字 [v2]", end="2026-11-22"))
    assert "# Three arms: template control" in text and "# the hash seed too" in text
    assert "comparisons:\n  - [neural_personalized, neural_generic]" in text  # not managed by the form: kept
    keys = [ln.split(":")[0] for ln in text.splitlines() if ln and not ln.startswith((" ", "#"))]
    assert keys == ["key", "name", "hypothesis", "owner", "arms", "comparisons", "start", "end", "timezone",
                    "primary_metric", "guardrails", "text_guardrails", "dimensions", "mde"]
    s = load_spec(path)
    assert s.name == "新名字 [v2]" and str(s.end) == "2026-11-22"


def test_locked_keys_keep_the_file_values(tmp_path: Path) -> None:
    path = tmp_path / "reason_three_arm.yaml"
    path.write_text((ROOT / "experiments" / "reason_three_arm.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    form = _form_from(path, **{"arms-0-weight": "0.5", "arms-1-weight": "0.25", "arms-2-weight": "0.25",
                               "start": "2026-11-03", "primary_metric": "cvr", "name": "renamed"})
    _save(path, form, locked=True)
    s = load_spec(path)
    assert s.weights == [0.34, 0.33, 0.33] and str(s.start) == "2026-11-01" and s.primary_metric == "ctr"
    assert s.name == "renamed"  # not locked: changed


@pytest.mark.parametrize("change, field", [
    ({"arms-1-name": "A"}, "arms-1-name"),
    ({"arms-1-weight": "-1"}, "arms-1-weight"),
    ({"arms-1-temperature": "9", "arms-1-generator": "neural"}, "arms-1-temperature"),
    ({"end": "2026-10-01"}, "end"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"guardrails-0-margin": "2"}, "guardrails-0-margin"),
    ({"text_guardrails": "unfaithful_rate <= 0.02\nnot a rule"}, "text_guardrails"),
    ({"key": "Bad Key"}, "key"),
    ({"alpha": "abc"}, "alpha"),
])
def test_form_errors_are_abkit_validate_messages_on_the_right_field(tmp_path: Path, change: dict, field: str) -> None:
    form = {"key": "exp_a", "arms-0-name": "A", "arms-0-weight": "0.5", "arms-0-generator": "template",
            "arms-1-name": "B", "arms-1-weight": "0.5", "arms-1-generator": "template", "start": "2026-11-01",
            "end": "2026-11-08", "timezone": "UTC", "primary_metric": "ctr", "guardrails-0-metric": "cvr",
            "guardrails-0-margin": "0.05", **change}
    doc = S.load_document(None)
    S.apply_form(doc, S.form_to_values(form, list(METRICS)), locked=False)
    spec, key, problem = S.validate_document(doc, "exp_a.yaml")
    assert spec is None
    fields = {"key", "arms", "end", "timezone", "text_guardrails", "alpha", "arms-1-weight", "arms-1-temperature",
              "guardrails-0-margin", "arms-1-name", "guardrails-0-metric"}
    assert S.field_for(key, fields) == field
    # the very message `abkit validate` prints for the same file
    path = tmp_path / "exp_a.yaml"
    path.write_text(S.dump(doc), encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert str(info.value) == f"{path}: {key}: {problem}"

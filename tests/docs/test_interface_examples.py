"""The examples in docs/interface.md are valid: the spec example passes validation as written."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import yaml

from abkit.spec import parse_spec

DOC = Path(__file__).resolve().parents[2] / "docs" / "interface.md"


def spec_example() -> str:
    text = DOC.read_text(encoding="utf-8")
    block = re.search(r"\n((?:    .*\n|\n)*?    key: .*\n(?:    .*\n)+)", text[text.index("\n## Spec\n"):])
    assert block, "no indented spec example under ## Spec"
    return textwrap.dedent(block.group(1))


def test_spec_example_validates() -> None:
    spec = parse_spec(yaml.safe_load(spec_example()), "interface.md")
    assert spec.control_arm == "control" and spec.primary_metric == "ctr"
    assert [g.metric for g in spec.text_guardrails] == ["unfaithful_rate", "ad_law_violation_rate", "distinct_2_at_n"]


"""Every ```python block of docs/python-api.md runs, in order, in an empty folder."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "python-api.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks(text: str) -> list[str]:
    return BLOCK.findall(text)


def test_blocks_are_found() -> None:
    text = "intro\n```python\nx = 1\n```\n```bash\nls\n```\n```python\ny = x\n```\n"
    assert python_blocks(text) == ["x = 1\n", "y = x\n"]


def test_python_api_page_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = python_blocks(DOC.read_text(encoding="utf-8"))
    assert len(blocks) >= 8
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for i, code in enumerate(blocks):
        try:
            exec(compile(code, f"{DOC.name}[block {i}]", "exec"), namespace)
        except Exception as exc:  # name the block that failed
            raise AssertionError(f"{DOC.name} block {i} failed: {exc!r}\n{code}") from exc
    # the page promises these: a decision, a frame per comparison, a report file
    assert namespace["result"].decision.action in {"ship", "keep_running", "stop", "no_decision"}
    assert set(namespace["frame"]["metric"]) >= {"ctr", "cvr", "conversion_rate", "orders_per_user",
                                                  "revenue_per_user"}
    assert (tmp_path / "report.html").stat().st_size > 10_000
    assert (tmp_path / "forest.html").exists()
    assert_fields_documented(namespace["data"])  # every field of a real result has its line in interface.md


def _section(text: str, title: str) -> str:
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else None]


def documented(section: str, key: str) -> bool:
    """`key` is named in the section, literally or with its digits as n (distinct_2 -> distinct_n)."""
    return f"`{key}`" in section or f"`{re.sub(r'[0-9]+', 'n', key)}`" in section


def test_documented_handles_numbered_keys() -> None:
    assert documented("`distinct_n_at_n` and `srm`", "distinct_2_at_n")
    assert documented("`distinct_n_at_n` and `srm`", "srm")
    assert not documented("`distinct_n_at_n`", "distinct_2")


def assert_fields_documented(data: dict[str, Any]) -> None:
    section = _section((DOC.parent / "interface.md").read_text(encoding="utf-8"), "Analysis JSON")
    rows = {"top level": data, "metrics row": data["metrics"][0], "guardrails row": data["guardrails"][0],
            "breakdown row": next(iter(data["breakdowns"].values()))[0],
            "diversity entry": next(iter(data["diversity"].values())), "decision": data["decision"]}
    missing = [f"{where}: {key}" for where, obj in rows.items() for key in obj if not documented(section, key)]
    assert not missing, f"fields of abkit analyze --json missing from docs/interface.md: {missing}"

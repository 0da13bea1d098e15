"""Every ```python block of docs/python-api.md runs, in order, in an empty folder."""

from __future__ import annotations

import re
from pathlib import Path

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
    assert namespace["result"].decision["action"] in {"ship", "keep_running", "stop", "no_decision"}
    assert set(namespace["frame"]["metric"]) >= {"ctr", "cvr", "conversion_rate", "orders_per_user",
                                                  "revenue_per_user"}
    assert (tmp_path / "report.html").stat().st_size > 10_000
    assert (tmp_path / "forest.html").exists()

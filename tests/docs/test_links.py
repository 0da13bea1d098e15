"""Documentation links resolve, and every "docs/<page>.md, <Section>" the code cites exists."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted((ROOT / "docs").glob("*.md"))
LINK = re.compile(r"\]\(([^)\s]+)\)")
CITATION = re.compile(r"docs/([a-z_-]+\.md), ([A-Z][A-Za-z ]*)")
REQUIRED = {
    "interface.md": ["Set-up", "Data", "Metrics", "Commands", "Spec", "Analysis JSON", "Serving", "Web app"],
    "text.md": ["Diversity", "Compliance", "Faithfulness", "Vocabularies", "Simulated effects"],
}


def headings(path: Path) -> list[str]:
    text = re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.S | re.M)
    return [m.group(2).strip() for m in re.finditer(r"^(#{1,6}) (.+)$", text, re.M)]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def test_slug_follows_github() -> None:
    assert slug("Set-up") == "set-up"
    assert slug("`metrics` rows") == "metrics-rows"
    assert slug("B. Sequential (GrowthBook)") == "b-sequential-growthbook"


@pytest.mark.parametrize("page", ["README.md", *(f"docs/{p.name}" for p in DOCS)])
def test_relative_links_resolve(page: str) -> None:
    source = ROOT / page
    for target in LINK.findall(source.read_text(encoding="utf-8")):
        if re.match(r"^[a-z]+:", target):
            continue
        file_part, _, anchor = target.partition("#")
        dest = (source.parent / file_part).resolve() if file_part else source
        assert dest.exists(), f"{page}: link to missing {target}"
        if anchor and dest.suffix == ".md":
            assert anchor in {slug(h) for h in headings(dest)}, f"{page}: no section #{anchor} in {dest.name}"


@pytest.mark.parametrize("page, sections", REQUIRED.items())
def test_required_sections(page: str, sections: list[str]) -> None:
    assert set(sections) <= set(headings(ROOT / "docs" / page))


def test_cited_sections_exist() -> None:
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    cited = 0
    for name in files:
        path = ROOT / name
        if name.startswith("docs/") or not path.is_file() or path.suffix not in {".py", ".sql", ".json", ".md"}:
            continue
        for page, words in CITATION.findall(path.read_text(encoding="utf-8", errors="replace")):
            doc = ROOT / "docs" / page
            assert doc.exists(), f"{name} cites missing docs/{page}"
            assert any(words.startswith(h) for h in headings(doc)), f"{name} cites docs/{page}, {words!r}"
            cited += 1
    assert cited >= 10  # the code does cite the docs; a broken pattern would find none

"""Pre-flight check of candidate reason texts (``abkit lint-reasons``).

Each text fails when it holds a banned term (compliance) or a claim its item contradicts
(faithfulness); unsupported claims are reported as notes and do not fail. A text whose
item_id is not in the catalog is checked for compliance only (and said so).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from abkit.text.extension import TextExtension
from abkit.text.items import items_by_id
from abkit.text.scoring import TextChecker


@dataclass
class LintReport:
    checked: int = 0
    failed: int = 0
    ad_law: int = 0
    unfaithful: int = 0
    unsupported: int = 0
    no_item: int = 0
    empty: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> str:
        return (f"checked {self.checked} texts: {self.failed} fail "
                f"({self.ad_law} banned terms, {self.unfaithful} contradicted claims, {self.empty} empty); "
                f"{self.unsupported} with unsupported claims; {self.no_item} without a catalog item")


def lint_texts(df: pd.DataFrame, items: pd.DataFrame | None, extension: TextExtension | None = None) -> LintReport:
    """Lint the rows of ``df`` (columns text, optional item_id); line numbers are 1-based data rows.
    ``extension``: a text-lexicon extension file's contents (--text-lexicon)."""
    catalog = items_by_id(items)
    has_item = "item_id" in df.columns
    texts = df["text"].tolist()
    ids = df["item_id"].tolist() if has_item else [None] * len(df)
    rep = LintReport(checked=len(df))
    ok_rows = [i for i, t in enumerate(texts) if isinstance(t, str) and t.strip()]
    checker = TextChecker.build(catalog, extension)
    scores = checker.score([texts[i] for i in ok_rows], [ids[i] for i in ok_rows], catalog)
    for i, t in enumerate(texts):
        if not (isinstance(t, str) and t.strip()):
            rep.empty += 1
            rep.failed += 1
            rep.problems.append({"line": i + 1, "item_id": ids[i], "text": None, "fail": True, "problems": ["empty text"]})
    for k, i in enumerate(ok_rows):
        notes: list[str] = []
        fail = False
        if k in scores.matches:
            rep.ad_law += 1
            fail = True
            notes += [f"banned term {m.term} ({m.category})" for m in scores.matches[k]]
        if k in scores.contradicted:
            rep.unfaithful += 1
            fail = True
            notes += [f"contradicted: {c.surface} ({c.note})" for c in scores.contradicted[k]]
        if k in scores.unsupported_claims:
            rep.unsupported += 1
            notes += [f"unsupported: {c.surface}" for c in scores.unsupported_claims[k]]
        if has_item and ids[i] not in catalog:
            rep.no_item += 1
            notes.append("item not in catalog: faithfulness not checked")
        rep.failed += fail
        if notes:
            rep.problems.append({"line": i + 1, "item_id": ids[i], "text": texts[i], "fail": fail, "problems": notes})
    rep.problems.sort(key=lambda p: p["line"])
    return rep

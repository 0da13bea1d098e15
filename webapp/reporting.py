"""The report's sections for the experiment page: ONE adapter over the report builder.

The page shows what `abkit report` writes, minus the page chrome and the inlined plotly.js
(the app serves plotly.js once, cached). The report builder escapes every user- or
model-written string; this module only cuts its <main> out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import duckdb
from markupsafe import Markup

from abkit.result import AnalysisResult
from abkit.spec import Spec

_MAIN = re.compile(r"<main>(.*)</main>", re.S)


def report_inputs(con: duckdb.DuckDBPyConnection | None, spec: Spec
                  ) -> tuple[AnalysisResult | None, list[AnalysisResult]]:
    """(latest stored result, history) as `abkit report` reads them from the warehouse."""
    from experiments.analysis.store import load_result

    if con is None:
        return None, []
    return load_result(con, spec.key)


def full_report(spec: Spec, result: AnalysisResult, history: Sequence[AnalysisResult], lang: str) -> str:
    """The self-contained HTML report (the download)."""
    from reports.build import build_report

    return build_report(spec, result, history=history, lang=lang)


def report_sections(spec: Spec, result: AnalysisResult, history: Sequence[AnalysisResult], lang: str) -> Markup:
    """The report's body (decision, health, metrics, over time, segments, texts, planning, method)."""
    from reports.build import render

    page, _ = render(spec, result, history=history, lang=lang)
    m = _MAIN.search(page)
    return Markup(m.group(1) if m else "")  # noqa: S704 — produced by the report builder, which escapes all text


def report_css() -> str:
    from reports.html import CSS

    return CSS

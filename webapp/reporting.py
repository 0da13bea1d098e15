"""The report's sections for the experiment page: ONE adapter over the report builder.

The page shows what `abkit report` writes, minus the page chrome and the inlined plotly.js
(the app serves plotly.js once, cached). The report builder escapes every user- or
model-written string; this module only cuts its <main> out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
from markupsafe import Markup

from abkit.spec import Spec

_MAIN = re.compile(r"<main>(.*)</main>", re.S)


def report_inputs(con: duckdb.DuckDBPyConnection | None, spec: Spec
                  ) -> tuple[dict[str, Any] | None, list[dict[str, Any]], dict[str, Any]]:
    """(latest stored result, history, extras) as `abkit report` gathers them."""
    from reports import source

    if con is None:
        return None, [], {}
    latest, history = source.latest_and_history(source.stored_results(con, spec.key))
    extras: dict[str, Any] = {"health": source.health(con, spec)}
    if latest is not None and not latest.get("daily"):
        extras["daily"] = source.daily_exposures(con, spec)
    return latest, history, extras


def full_report(spec: Spec, result: Mapping[str, Any], history: Sequence[Mapping[str, Any]],
                extras: Mapping[str, Any], lang: str) -> str:
    """The self-contained HTML report (the download)."""
    from reports.build import build_report

    return build_report(spec, result, history=history, extras=extras, lang=lang)


def report_sections(spec: Spec, result: Mapping[str, Any], history: Sequence[Mapping[str, Any]],
                    extras: Mapping[str, Any], lang: str) -> Markup:
    """The report's body (decision, health, metrics, over time, segments, texts, planning, method)."""
    from reports.build import render

    page, _ = render(spec, result, history=history, extras=extras, lang=lang)
    m = _MAIN.search(page)
    return Markup(m.group(1) if m else "")  # noqa: S704 — produced by the report builder, which escapes all text


def report_css() -> str:
    from reports.html import CSS

    return CSS

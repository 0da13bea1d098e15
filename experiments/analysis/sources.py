"""`analyze` over raw log files (Parquet or catalog tables) on any engine, with what became of the rows."""

from __future__ import annotations

from typing import Any

from abkit.result import AnalysisResult
from abkit.spec import Spec
from experiments.analysis.analyze import analyze
from experiments.analysis.engines.base import Engine, Sources, drop_sources, input_summary, load_sources


def input_notes(summary: dict[str, dict[str, Any]]) -> list[str]:
    """One note per table that lost rows to deduplication or validation."""
    notes = []
    for table, s in summary.items():
        bad = sum(s["invalid"].values())
        if bad or s["duplicates"]:
            reasons = ", ".join(f"{k} {v:,}" for k, v in s["invalid"].items())
            notes.append(f"{table}: {s['read']:,} raw rows, {s['duplicates']:,} duplicates dropped, "
                         f"{bad:,} invalid rows excluded" + (f" ({reasons})" if reasons else "") + ".")
    return notes


def analyze_sources(spec: Spec, engine: Engine, sources: Sources, *, keep_tables: bool = False,
                    **kwargs: Any) -> AnalysisResult:
    """`analyze` over raw log files: the result JSON gains ``input_rows`` (read / accepted /
    duplicates / invalid by reason, per table), ``engine``, and a note when rows were excluded.
    ``keep_tables`` keeps the stages and the cleaned relations (engines.base.source_relations)."""
    loaded = load_sources(engine, sources)
    notes = []
    if kwargs.get("text_metrics", True) and not loaded.given["reasons"]:
        kwargs["text_metrics"] = False
        notes.append("No --reasons given: text metrics (diversity) were skipped.")
    try:
        result = analyze(spec, engine, rel=loaded.rel, keep_tables=keep_tables, **kwargs)
    finally:
        if not keep_tables:
            drop_sources(engine)
    summary = input_summary(loaded.counts)
    data = result.to_json()
    data["input_rows"] = summary
    data["notes"] = [*data["notes"], *notes, *input_notes(summary)]
    data["engine"] = engine.name
    return AnalysisResult.from_json(data)

"""Analysis results in the warehouse's ``results`` table: append one, read them back (latest + history)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import duckdb

from abkit.result import AnalysisResult
from abkit.warehouse import has_table
from experiments.analysis.health import iso_utc


def store_result(con: duckdb.DuckDBPyConnection, result: AnalysisResult) -> None:
    """Append the result with its timestamp to the ``results`` table (reports show the history)."""
    d = result.to_json()
    as_of = result.as_of
    con.execute("INSERT INTO results (experiment, computed_at, as_of, result) VALUES (?, ?, ?, ?)",
                [d["experiment"], dt.datetime.now(dt.UTC).replace(tzinfo=None),
                 dt.datetime.strptime(as_of, "%Y-%m-%dT%H:%M:%SZ") if as_of else None,
                 json.dumps(d, ensure_ascii=False, allow_nan=False)])


def stored_results(con: duckdb.DuckDBPyConnection, experiment: str) -> list[AnalysisResult]:
    """Every stored result of the experiment, oldest first, ``as_of``/``computed_at`` filled from the row.
    A damaged row is skipped, not fatal: the others still make a report."""
    if not has_table(con, "results"):
        return []
    rows = con.execute(
        "SELECT computed_at, as_of, result FROM results WHERE experiment = ? ORDER BY computed_at", [experiment]
    ).fetchall()
    out = []
    for computed_at, as_of, text in rows:
        try:
            res: Any = json.loads(text) if isinstance(text, str) else dict(text)
        except (TypeError, ValueError):
            continue
        if not isinstance(res, dict):
            continue
        res.setdefault("computed_at", iso_utc(computed_at))
        if res.get("as_of") is None and as_of is not None:
            res["as_of"] = iso_utc(as_of)
        out.append(AnalysisResult.from_json(res))
    return out


def latest_and_history(results: list[AnalysisResult]) -> tuple[AnalysisResult | None, list[AnalysisResult]]:
    """The latest full-window result (as_of empty) else the latest computed; history = one per data time."""
    if not results:
        return None, []
    full = [r for r in results if not r.as_of]
    latest = (full or results)[-1]
    by_time: dict[str, AnalysisResult] = {}
    for r in results:  # oldest first: a later computation for the same data time wins
        if r is not latest:
            by_time[str(r.time)] = r
    return latest, list(by_time.values())


def load_result(con: duckdb.DuckDBPyConnection, experiment: str) -> tuple[AnalysisResult | None, list[AnalysisResult]]:
    """The latest stored result of the experiment and its history (see :func:`latest_and_history`)."""
    return latest_and_history(stored_results(con, experiment))

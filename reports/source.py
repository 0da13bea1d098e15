"""What the report reads from the warehouse: stored results (latest + history) and a few health figures.

Reports never attribute events themselves: results come from the `results` table that
`abkit analyze` fills (or from `experiments.analysis.analyze.analyze` when none is stored). The only
queries here are small counts: quarantined rows, freshness, and daily exposures per arm when
the result carries no ``daily`` block.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import duckdb

from abkit.errors import AbkitError
from abkit.spec import Spec
from abkit.warehouse import has_table


def _iso(t: Any) -> str | None:
    if t is None:
        return None
    if isinstance(t, dt.datetime):
        if t.tzinfo is not None:
            t = t.astimezone(dt.UTC).replace(tzinfo=None)
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(t)


def stored_results(con: duckdb.DuckDBPyConnection, experiment: str) -> list[dict[str, Any]]:
    """Every stored result of the experiment, oldest first, with ``as_of``/``computed_at`` filled from the row."""
    if not has_table(con, "results"):
        return []
    rows = con.execute(
        "SELECT computed_at, as_of, result FROM results WHERE experiment = ? ORDER BY computed_at", [experiment]
    ).fetchall()
    out = []
    for computed_at, as_of, text in rows:
        try:
            res = json.loads(text) if isinstance(text, str) else dict(text)
        except (TypeError, ValueError):
            continue  # a damaged row is skipped, not fatal: the others still make a report
        if not isinstance(res, dict):
            continue
        res.setdefault("computed_at", _iso(computed_at))
        if res.get("as_of") is None and as_of is not None:
            res["as_of"] = _iso(as_of)
        out.append(res)
    return out


def latest_and_history(results: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The latest full-window result (as_of empty) else the latest computed; history = one per data time."""
    if not results:
        return None, []
    full = [r for r in results if not r.get("as_of")]
    latest = (full or results)[-1]
    by_time: dict[str, dict[str, Any]] = {}
    for r in results:  # oldest first: a later computation for the same data time wins
        if r is latest:
            continue
        key = str(r.get("as_of") or r.get("computed_at"))
        by_time[key] = r
    return latest, list(by_time.values())


def health(con: duckdb.DuckDBPyConnection, spec: Spec) -> dict[str, Any]:
    """Quarantined rows per table, latest ingestion per log table, latest exposure of this experiment."""
    out: dict[str, Any] = {}
    if has_table(con, "quarantine"):
        out["quarantine"] = dict(con.execute("SELECT table_name, count(*) FROM quarantine GROUP BY 1 ORDER BY 1").fetchall())
    ingested = {}
    for table in ("exposures", "events"):  # fixed names from the schema, not user input
        if has_table(con, table):
            ingested[table] = _iso(con.execute(f"SELECT max(ingested_at) FROM {table}").fetchone()[0])
    out["latest_ingested_at"] = ingested
    if has_table(con, "exposures"):
        out["latest_exposure"] = _iso(
            con.execute("SELECT max(ts) FROM exposures WHERE experiment = ?", [spec.key]).fetchone()[0])
    return out


def daily_exposures(con: duckdb.DuckDBPyConnection, spec: Spec) -> list[dict[str, Any]]:
    """Exposures and exposed users per arm per day of the spec's time zone (traffic, not attribution)."""
    if not has_table(con, "exposures"):
        return []
    start, end = spec.window_utc()
    rows = con.execute(
        """
        SELECT CAST(timezone(?, CAST(ts AS TIMESTAMPTZ)) AS DATE) AS day, arm,
               count(*) AS exposures, count(DISTINCT user_id) AS users
        FROM exposures WHERE experiment = ? AND ts >= ? AND ts < ?
        GROUP BY 1, 2 ORDER BY 1, 2
        """,
        [spec.timezone, spec.key, start, end],
    ).fetchall()
    out = []
    for day, arm, n_exp, n_users in rows:
        out.append({"date": day.isoformat(), "arm": arm, "metric": "exposures", "value": int(n_exp)})
        out.append({"date": day.isoformat(), "arm": arm, "metric": "users", "value": int(n_users)})
    return out


def run_analysis(spec: Spec, con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Analyze now through the analysis API (used when no result is stored)."""
    try:
        from experiments.analysis.analyze import analyze
    except ImportError:
        raise AbkitError(f"no stored result for {spec.key}: run `abkit analyze` first") from None
    res = analyze(spec, con)
    if hasattr(res, "to_json_dict"):
        return res.to_json_dict()
    return dict(res)


def analysis_sql(spec: Spec) -> str | None:
    try:
        from experiments.analysis.analyze import analysis_sql as sql
    except ImportError:
        return None
    try:
        return sql(spec)
    except Exception:  # the SQL listing is an appendix: never fail the report over it
        return None

"""The ``health`` block: quarantined rows per table and freshness of the warehouse's logs."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

from abkit.spec import Spec
from abkit.warehouse import has_table


def iso_utc(t: Any) -> str | None:
    """A timestamp as ``YYYY-MM-DDTHH:MM:SSZ`` (naive values are UTC)."""
    if t is None:
        return None
    if isinstance(t, dt.datetime):
        if t.tzinfo is not None:
            t = t.astimezone(dt.UTC).replace(tzinfo=None)
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(t)


def health_block(con: duckdb.DuckDBPyConnection, spec: Spec) -> dict[str, Any]:
    """Quarantined rows per table, latest ingestion per log table, latest exposure of this experiment."""
    out: dict[str, Any] = {}
    if has_table(con, "quarantine"):
        out["quarantine"] = dict(con.execute("SELECT table_name, count(*) FROM quarantine GROUP BY 1 ORDER BY 1")
                                 .fetchall())
    ingested = {}
    for table in ("exposures", "events"):  # fixed names from the schema, not user input
        if has_table(con, table):
            ingested[table] = iso_utc(con.execute(f"SELECT max(ingested_at) FROM {table}").fetchall()[0][0])
    out["latest_ingested_at"] = ingested
    if has_table(con, "exposures"):
        out["latest_exposure"] = iso_utc(
            con.execute("SELECT max(ts) FROM exposures WHERE experiment = ?", [spec.key]).fetchall()[0][0])
    return out

"""The one row of a DuckDB query that always returns one (an aggregate without GROUP BY, a setting).

DuckDB types ``fetchone()`` as ``tuple | None``; for these queries a missing row means a broken
query, and this says so instead of failing later on ``None[0]``.
"""

from __future__ import annotations

from typing import Any

import duckdb


def one_row(result: duckdb.DuckDBPyConnection) -> tuple[Any, ...]:
    """The first row of an executed query (``con.execute(...)``); an error when there is none."""
    row = result.fetchone()
    if row is None:
        raise RuntimeError("a query that always returns one row returned none")
    return row

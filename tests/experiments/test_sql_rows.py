"""one_row: the row of a one-row query, and a clear error (not ``None[0]``) when there is none."""

from __future__ import annotations

import duckdb
import pytest

from experiments.sql_rows import one_row


def test_one_row_returns_the_row() -> None:
    con = duckdb.connect()
    assert one_row(con.execute("SELECT count(*), 7 FROM range(3)")) == (3, 7)


def test_one_row_raises_when_the_query_returns_none() -> None:
    con = duckdb.connect()
    with pytest.raises(RuntimeError, match="returned none"):
        one_row(con.execute("SELECT 1 WHERE false"))

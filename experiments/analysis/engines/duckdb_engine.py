"""The default engine: one DuckDB connection (the warehouse file, or in-memory over Parquet logs)."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pandas as pd

from abkit.schema import KIND_TYPES
from abkit.warehouse import check_identifier
from experiments.analysis import queries as q
from experiments.analysis.engines.base import Engine, EngineError, is_path, missing_required, schema_fields

# The session runs with TimeZone = UTC, so text with an offset ('...+08:00', '...Z') and
# TIMESTAMPTZ columns become naive UTC; a plain TRY_CAST(text AS TIMESTAMP) would drop the offset.
_PARSE_TS = "CAST(TRY_CAST(ts AS TIMESTAMPTZ) AS TIMESTAMP)"
_NESTED = ("STRUCT", "MAP", "UNION", "LIST")
_EXTRA_TYPE = KIND_TYPES["map"].duckdb


class DuckDBEngine:
    """Runs the analysis SQL on a DuckDB connection (``$name`` parameters are DuckDB's own)."""

    name = "duckdb"
    parse_ts = _PARSE_TS

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self._kinds: dict[str, str] = {}  # name -> TABLE | VIEW | FRAME

    def materialize(self, query: q.Query, name: str) -> None:
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {check_identifier(name)} AS {query.sql}", query.params)
        self._kinds[name] = "TABLE"

    def view(self, query: q.Query, name: str) -> None:
        if query.params:
            raise ValueError(f"{query.name}: a view cannot take parameters")
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW {check_identifier(name)} AS {query.sql}")
        self._kinds[name] = "VIEW"

    def frame(self, query: q.Query) -> pd.DataFrame:
        return self.con.execute(query.sql, query.params).df()

    def drop(self, name: str) -> None:
        kind = self._kinds.pop(name, "TABLE")
        if kind == "FRAME":
            self.con.unregister(name)
        else:
            self.con.execute(f"DROP {kind} IF EXISTS {check_identifier(name)}")

    def register(self, name: str, df: pd.DataFrame) -> None:
        self.con.register(check_identifier(name), df)
        self._kinds[name] = "FRAME"

    def load_source(self, table: str, location: str | None, name: str) -> None:
        check_identifier(name)
        self.con.execute("SET TimeZone = 'UTC'")
        if location is None:
            exprs = [duckdb.ConstantExpression(None).cast(f.duckdb_type).alias(f.name)
                     for f in schema_fields(table)]
            exprs.append(duckdb.ConstantExpression(None).cast(_EXTRA_TYPE).alias("extra"))
            self.con.sql("SELECT 1 WHERE false").select(*exprs).create_view(name, replace=True)
            self._kinds[name] = "VIEW"
            return
        rel = self._read(table, location)
        # Column names come from the file: they are referenced through the expression API and
        # put into the `extra` map as values, never spliced into SQL text.
        by_lower = {c.lower(): (c, str(t)) for c, t in zip(rel.columns, rel.types, strict=True)}
        missing_required(table, list(by_lower), location)
        exprs = []
        known = set()
        for f in schema_fields(table):
            if f.name in by_lower:
                col, typ = by_lower[f.name]
                known.add(col)
                expr = duckdb.ColumnExpression(col)
                if f.kind == "json" and typ.upper().startswith(_NESTED):
                    expr = duckdb.FunctionExpression("to_json", expr)
                exprs.append(expr.alias(f.name))
            else:
                exprs.append(duckdb.ConstantExpression(None).cast(f.duckdb_type).alias(f.name))
        others = [(c, str(t)) for c, t in zip(rel.columns, rel.types, strict=True) if c not in known]
        if others:
            keys = duckdb.FunctionExpression("list_value", *[duckdb.ConstantExpression(c) for c, _ in others])
            values = duckdb.FunctionExpression("list_value", *[
                (duckdb.FunctionExpression("to_json", duckdb.ColumnExpression(c))
                 if t.upper().startswith(_NESTED) else duckdb.ColumnExpression(c)).cast("VARCHAR")
                for c, t in others])
            extra = duckdb.FunctionExpression("map", keys, values)
        else:
            extra = duckdb.ConstantExpression(None).cast(_EXTRA_TYPE)
        exprs.append(extra.alias("extra"))
        rel.select(*exprs).create_view(name, replace=True)
        self._kinds[name] = "VIEW"

    def _read(self, table: str, location: str) -> duckdb.DuckDBPyRelation:
        if not is_path(location):
            try:
                return self.con.table(location)
            except duckdb.Error as exc:
                raise EngineError(f"--{table} {location}: no such table ({str(exc).splitlines()[0]})") from None
        path = location
        if Path(location).is_dir():
            path = os.path.join(location, "**", "*.parquet")
        try:
            return self.con.read_parquet(path, union_by_name=True, hive_partitioning=True)
        except duckdb.Error as exc:
            raise EngineError(f"{location}: cannot read as Parquet ({str(exc).splitlines()[0]})") from None


def as_engine(con: duckdb.DuckDBPyConnection | Engine) -> Engine:
    """An Engine as is; a DuckDB connection wrapped in :class:`DuckDBEngine`."""
    if isinstance(con, Engine):
        return con
    return DuckDBEngine(con)

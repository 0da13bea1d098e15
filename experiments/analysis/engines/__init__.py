"""Engines for the analysis SQL: DuckDB (default, one machine) and Spark (a cluster).

Design: **portable SQL with a thin per-engine layer**, not transpilation. experiments/analysis/sql/*.sql is
written once in the common subset of DuckDB and Spark SQL (window functions, ``min_by``,
``percentile_cont ... WITHIN GROUP``, ``TRY_CAST``, ``CASE``, ``STRING`` — an alias of VARCHAR
in DuckDB — and no ASOF / QUALIFY / ``::``). Each engine only (1) binds parameters — DuckDB
takes ``$name`` as is; Spark gets ``:name`` with ``spark.sql(text, args=...)`` (naive datetimes
bound as UTC instants, timedeltas as day-time intervals); (2) supplies one fixed expression that
parses the raw ``ts`` column to naive UTC; (3) exposes raw Parquet files or catalog tables as
relations with the schema's columns plus an ``extra`` string map, via its DataFrame/relational
API. sqlglot was tried and rejected: duckdb→spark rewrote ``percentile_cont(p) WITHIN GROUP``
into ``PERCENTILE_APPROX`` (different winsorizing caps), which breaks exact parity silently.

Raw logs never went through ``abkit ingest``, so validation and deduplication live in shared SQL
too (experiments/analysis/sql/clean_table.sql, its slots generated from abkit/schema.py: typed
rows, the first failed check as the reason, and ``row_number() OVER (PARTITION BY event_id ...)``
keeping one copy); the same SQL runs on DuckDB over Parquet and on Spark, and
tests/experiments/analysis/engines/test_spark_parity.py checks both against the ingest path. Over
the warehouse (ingested tables) DuckDB skips that stage: ingest already enforced it.

    from experiments.analysis.engines import SparkEngine, Sources
    from experiments.analysis.sources import analyze_sources
    engine = SparkEngine.start({"spark.master": "local[*]"})
    result = analyze_sources(spec, engine, Sources(exposures="logs/exposures/", events="logs/events/*.parquet"))
"""

from experiments.analysis.engines.base import Engine, EngineError, Sources, load_sources
from experiments.analysis.engines.duckdb_engine import DuckDBEngine, as_engine

__all__ = ["DuckDBEngine", "Engine", "EngineError", "Sources", "SparkEngine", "as_engine", "load_sources"]


def __getattr__(name: str):  # pyspark is optional: import the Spark engine only when asked for
    if name == "SparkEngine":
        from experiments.analysis.engines.spark_engine import SparkEngine

        return SparkEngine
    raise AttributeError(name)

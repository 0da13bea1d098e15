"""The Spark engine: the same analysis SQL on Spark SQL, for logs too big for one machine.

    engine = SparkEngine.start({"spark.master": "spark://host:7077"})   # default local[*]
    result = analyze_sources(spec, engine, Sources(exposures="s3a://logs/exposures/", events=...))  # experiments/analysis/sources.py

The per-engine layer is thin: ``$name`` markers become Spark's ``:name`` named parameters
(``spark.sql(text, args=...)``, Spark >= 3.4), naive datetimes are bound as UTC instants, and
raw ``ts`` is parsed with ``TRY_CAST(ts AS TIMESTAMP)`` in a session whose time zone is forced
to UTC. Raw tables come from Parquet (file, folder, glob, URI) or the Spark catalog; their extra
columns go into an ``extra`` string map built with the DataFrame API (no names in SQL text).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from abkit.schema import KIND_TYPES
from abkit.warehouse import check_identifier
from experiments.analysis import queries as q
from experiments.analysis.engines.base import EngineError, is_path, missing_required, schema_fields

_EXTRA_TYPE = KIND_TYPES["map"].spark
# Forced: the SQL treats timestamps as naive UTC. Spark cannot read Parquet TIMESTAMP(NANOS) — what
# pandas and Arrow write by default — as a timestamp; with nanosAsLong it reads them as INT64
# nanoseconds since the epoch (UTC), which load_source turns back into timestamps.
FORCED_CONF = {"spark.sql.session.timeZone": "UTC", "spark.sql.legacy.parquet.nanosAsLong": "true"}
DEFAULT_CONF = {
    "spark.app.name": "abkit",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}


def find_java() -> str:
    """The java executable Spark will use (JAVA_HOME first, then PATH), or a one-line error."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    found = shutil.which("java")
    if found:
        return found
    raise EngineError("the Spark engine needs a Java runtime (17 or 21): none on PATH or in JAVA_HOME "
                      "(e.g. apt-get install openjdk-17-jre-headless, or set JAVA_HOME)")


def parse_conf(pairs: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``key=value`` strings (from --spark-conf) as a dict; one-line error on a malformed pair."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise EngineError(f"--spark-conf {pair!r}: expected key=value, e.g. spark.master=local[4]")
        out[key.strip()] = value.strip()
    return out


def to_spark_sql(sql: str) -> str:
    """DuckDB-style ``$name`` parameters → Spark's ``:name`` (the rest of the SQL is portable)."""
    return q._PARAM.sub(r":\1", sql)


def spark_args(params: dict[str, Any]) -> dict[str, Any]:
    """Bound values as Spark literals. A naive datetime is a UTC instant (pyspark would read it
    in the Python process's local zone); timedeltas become day-time intervals."""
    return {k: (v.replace(tzinfo=dt.UTC) if isinstance(v, dt.datetime) and v.tzinfo is None else v)
            for k, v in params.items()}


def _nanos_to_timestamp(column: Any) -> Any:
    """An INT64 count of nanoseconds since the epoch (a Parquet TIMESTAMP(NANOS) read with
    nanosAsLong) as a timestamp, truncated to microseconds (Spark's resolution) exactly."""
    from pyspark.sql import functions as F

    micros = ((column - F.pmod(column, F.lit(1000))) / F.lit(1000)).cast("long")
    return F.timestamp_micros(micros)


class SparkEngine:
    """Runs the analysis SQL on a SparkSession."""

    name = "spark"
    parse_ts = "TRY_CAST(ts AS TIMESTAMP)"

    def __init__(self, spark: Any) -> None:
        for key, value in FORCED_CONF.items():  # also on a session made elsewhere (getOrCreate)
            if spark.conf.get(key, None) != value:
                spark.conf.set(key, value)
        self.spark = spark
        self._cached: dict[str, Any] = {}

    @classmethod
    def start(cls, conf: dict[str, str] | None = None) -> SparkEngine:
        """A session (getOrCreate) with ``conf``; local[*] unless spark.master is given or the
        driver was launched by spark-submit (which passes its own master)."""
        find_java()
        try:
            from pyspark.sql import SparkSession
        except ImportError:
            raise EngineError("the Spark engine needs pyspark: pip install 'abkit[spark]'") from None
        settings = {**DEFAULT_CONF, **(conf or {}), **FORCED_CONF}
        if "spark.master" not in settings and "PYSPARK_GATEWAY_PORT" not in os.environ:
            settings["spark.master"] = "local[*]"
        if settings.get("spark.master", "").startswith("local"):
            # one machine: Spark's default of 200 shuffle partitions is mostly task overhead
            settings.setdefault("spark.sql.shuffle.partitions", str(4 * (os.cpu_count() or 2)))
        builder = SparkSession.builder
        for key, value in settings.items():
            builder = builder.config(key, value)
        try:
            spark = builder.getOrCreate()
        except Exception as exc:  # noqa: BLE001 - JVM start-up failures come in many types
            raise EngineError(f"cannot start Spark: {str(exc).strip().splitlines()[0][:300]}") from None
        spark.sparkContext.setLogLevel(settings.get("abkit.logLevel", "ERROR"))
        return cls(spark)

    # --- Engine protocol ------------------------------------------------------------------

    def _df(self, query: q.Query) -> Any:
        return self.spark.sql(to_spark_sql(query.sql), args=spark_args(query.params))

    def materialize(self, query: q.Query, name: str) -> None:
        from pyspark import StorageLevel

        self.drop(name)
        df = self._df(query).persist(StorageLevel.MEMORY_AND_DISK)
        df.count()  # compute now: later stages read it several times
        df.createOrReplaceTempView(check_identifier(name))
        self._cached[name] = df

    def view(self, query: q.Query, name: str) -> None:
        if query.params:
            raise ValueError(f"{query.name}: a view cannot take parameters")
        self.spark.sql(to_spark_sql(query.sql)).createOrReplaceTempView(check_identifier(name))

    def frame(self, query: q.Query) -> pd.DataFrame:
        return self._df(query).toPandas()

    def drop(self, name: str) -> None:
        df = self._cached.pop(name, None)
        if df is not None:
            df.unpersist()
        self.spark.catalog.dropTempView(check_identifier(name))

    def register(self, name: str, df: pd.DataFrame) -> None:
        self.spark.createDataFrame(df).createOrReplaceTempView(check_identifier(name))

    def load_source(self, table: str, location: str | None, name: str) -> None:
        from pyspark.sql import functions as F
        from pyspark.sql import types as T

        check_identifier(name)
        fields = schema_fields(table)
        if location is None:
            cols = [F.lit(None).cast(f.spark_type).alias(f.name) for f in fields]
            cols.append(F.lit(None).cast(_EXTRA_TYPE).alias("extra"))
            self.spark.range(0).select(*cols).createOrReplaceTempView(name)
            return
        df = self._read(table, location)
        by_lower = {c.lower(): c for c in df.columns}
        missing_required(table, list(by_lower), location)
        nested = (T.StructType, T.MapType, T.ArrayType)
        kinds = {s.name: s.dataType for s in df.schema.fields}
        cols, known = [], set()
        for f in fields:
            if f.name in by_lower:
                col = by_lower[f.name]
                known.add(col)
                c = df[col]
                if f.kind == "json" and isinstance(kinds[col], nested):
                    c = F.to_json(c)
                elif f.kind == "ts" and isinstance(kinds[col], T.LongType):
                    c = _nanos_to_timestamp(c)
                cols.append(c.alias(f.name))
            else:
                cols.append(F.lit(None).cast(f.spark_type).alias(f.name))
        others = [c for c in df.columns if c not in known]
        if others:
            pairs = []
            for c in others:
                value = F.to_json(df[c]) if isinstance(kinds[c], nested) else df[c].cast("string")
                pairs += [F.lit(c), value]
            extra = F.create_map(*pairs)
        else:
            extra = F.lit(None).cast(_EXTRA_TYPE)
        cols.append(extra.alias("extra"))
        df.select(*cols).createOrReplaceTempView(name)

    def _read(self, table: str, location: str) -> Any:
        try:
            if is_path(location):
                return self.spark.read.parquet(location)
            return self.spark.table(location)
        except Exception as exc:  # noqa: BLE001 - AnalysisException and friends
            first = str(exc).strip().splitlines()[0][:300]
            raise EngineError(f"--{table} {location}: cannot read ({first})") from None

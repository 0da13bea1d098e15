"""What an engine must do for `analyze`, and reading raw log files through the shared cleaning SQL.

An engine runs :class:`experiments.analysis.queries.Query` objects (SQL text with ``$name`` parameters and
their values) and returns small pandas frames. Everything else — attribution, aggregation,
validation and deduplication of raw rows — is the same SQL text on every engine.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import pandas as pd

from abkit.errors import AbkitError
from abkit.schema import LOG_TABLES, Column
from experiments.analysis import queries as q

RAW_TABLES = tuple(LOG_TABLES)
_TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}$")
_URI = re.compile(r"^[a-z][a-z0-9+.-]*://")


class EngineError(AbkitError):
    """A problem with an engine or its inputs (no Java, an unreadable path, a missing column)."""


@runtime_checkable
class Engine(Protocol):
    """Runs the analysis SQL. ``parse_ts`` turns the raw column ``ts`` into a naive UTC timestamp."""

    @property
    def name(self) -> str:
        """The engine's name (``duckdb``, ``spark``): picks the dialect of the few non-portable snippets."""

    @property
    def parse_ts(self) -> str:
        """SQL turning the raw column ``ts`` into a naive UTC timestamp."""

    def materialize(self, query: q.Query, name: str) -> None:
        """Compute the query once and keep it under ``name`` (a temp table / cached view)."""

    def view(self, query: q.Query, name: str) -> None:
        """A lazy named view (the query has no parameters)."""

    def frame(self, query: q.Query) -> pd.DataFrame:
        """Run the query; the (small) result as a DataFrame."""

    def drop(self, name: str) -> None:
        """Forget a relation made by materialize/view/register/load_source (no error if absent)."""

    def register(self, name: str, df: pd.DataFrame) -> None:
        """Make a small DataFrame queryable under ``name``."""

    def load_source(self, table: str, location: str | None, name: str) -> None:
        """Expose raw ``table`` rows at ``location`` (Parquet path/glob or catalog table; None: empty)
        as ``name`` with the schema's columns (missing optional ones NULL, required ones an error)
        and an ``extra`` string map of the other columns. No typing or validation here."""


# --- raw inputs ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Sources:
    """Where each raw table lives: a Parquet file, folder or glob, or a catalog table name."""

    exposures: str
    events: str
    reasons: str | None = None
    items: str | None = None
    users: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def schema_fields(table: str) -> tuple[Column, ...]:
    return LOG_TABLES[table].fields


def is_path(location: str) -> bool:
    """A location is a path (file, folder, glob or URI) unless it reads as a catalog table name."""
    return (_URI.match(location) is not None or any(c in location for c in "/\\*?[")
            or location.endswith((".parquet", ".pq")) or os.path.exists(location))


def check_location(table: str, location: str) -> str:
    """A path that exists (locally), a URI or glob, or a valid catalog table name; else one-line error."""
    if is_path(location):
        if not _URI.match(location) and not glob.glob(location) and not Path(location).exists():
            raise EngineError(f"--{table} {location}: no such file, folder or glob match")
        return location
    if not _TABLE_NAME.match(location):
        raise EngineError(f"--{table} {location!r}: neither a Parquet path nor a table name")
    return location


def missing_required(table: str, columns: list[str], location: str) -> None:
    have = {c.lower() for c in columns}
    for f in schema_fields(table):
        if f.required and f.name not in have:
            raise EngineError(f"{location}: {table} lacks the required column {f.name!r}")


def source_relations() -> q.Relations:
    """The relations :func:`load_sources` creates (fixed names)."""
    return q.Relations(**{t: f"abkit_clean_{t}" if t in q.CLEAN_COLUMNS else f"abkit_raw_{t}" for t in RAW_TABLES})


def drop_sources(engine: Engine) -> None:
    """Drop the analysis stages and everything :func:`load_sources` created."""
    rel = source_relations()
    names = list(rel.stage_tables)
    for t in RAW_TABLES:
        names += [f"abkit_clean_{t}", f"abkit_ranked_{t}"] if t in q.CLEAN_COLUMNS else []
        names.append(f"abkit_raw_{t}")
    for name in names:
        engine.drop(name)


@dataclass
class LoadedSources:
    """The relations the analysis reads, and what became of the raw exposure and event rows."""

    rel: q.Relations
    counts: dict[str, dict[str, int]]
    given: dict[str, bool]


def load_sources(engine: Engine, sources: Sources) -> LoadedSources:
    """Raw tables → relations; exposures and events go through the shared cleaning SQL
    (experiments/analysis/sql/clean_table.sql) and are materialized once, deduplicated and validated."""
    counts: dict[str, dict[str, int]] = {}
    locations = {t: None if loc is None else check_location(t, loc) for t, loc in sources.as_dict().items()}
    for table, location in locations.items():
        raw = f"abkit_raw_{table}"
        engine.load_source(table, location, raw)
        if table in q.CLEAN_COLUMNS:
            ranked = f"abkit_ranked_{table}"
            engine.materialize(q.clean_ranked(table, raw, engine.parse_ts), ranked)
            engine.view(q.clean_rows(table, ranked), f"abkit_clean_{table}")
            df = engine.frame(q.clean_counts(ranked))
            counts[table] = {str(k): int(v) for k, v in zip(df["outcome"], df["n_rows"], strict=True)}
    return LoadedSources(source_relations(), counts, {t: loc is not None for t, loc in locations.items()})


def input_summary(counts: dict[str, dict[str, int]]) -> dict[str, dict[str, Any]]:
    """{table: {read, accepted, duplicates, invalid: {reason: rows}}} for the result JSON."""
    out: dict[str, dict[str, Any]] = {}
    for table, c in counts.items():
        invalid = {k: v for k, v in sorted(c.items()) if k not in ("accepted", "duplicate")}
        out[table] = {"read": sum(c.values()), "accepted": c.get("accepted", 0),
                      "duplicates": c.get("duplicate", 0), "invalid": invalid}
    return out

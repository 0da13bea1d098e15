"""The warehouse tables, written once: names, columns, types, required flags and event types.

Everything else derives from this module: the DuckDB DDL (``abkit/warehouse.py``), ingest's typed
and validated select (``experiments/ingest/sql.py``), the cleaning SQL that engines run over raw
log files (``experiments/analysis/clean_sql.py`` filling ``experiments/analysis/sql/clean_table.sql``)
and the simulator's Arrow schemas (``experiments/simulate/traffic.py``). The log columns are
described for users in docs/interface.md.

Two kinds of tables:

* :data:`LOG_TABLES` — what users' log files supply (:class:`LogTable`): the fields, the key that
  deduplicates rows, and the row checks. Stored with three bookkeeping columns (``extra``,
  ``source_file``, ``ingested_at``).
* :data:`OWN_TABLES` — what abkit itself writes (quarantine, results, lifecycle, ...).

SQL snippets here (checks, fixes) are portable between DuckDB and Spark SQL and reference the
typed columns by name.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import pyarrow as pa

Kind = Literal["id", "text", "enum", "ts", "double", "bool", "json", "int", "bigint", "map"]

EVENT_TYPES: tuple[str, ...] = ("click", "cart", "order", "refund")


class KindTypes(NamedTuple):
    duckdb: str
    spark: str
    arrow: pa.DataType


# A kind is what a value means; these are its types in each place it is stored or read.
KIND_TYPES: dict[str, KindTypes] = {
    "id": KindTypes("VARCHAR", "string", pa.string()),
    "text": KindTypes("VARCHAR", "string", pa.string()),
    "enum": KindTypes("VARCHAR", "string", pa.string()),
    "ts": KindTypes("TIMESTAMP", "timestamp", pa.timestamp("us")),
    "double": KindTypes("DOUBLE", "double", pa.float64()),
    "bool": KindTypes("BOOLEAN", "boolean", pa.bool_()),
    "json": KindTypes("JSON", "string", pa.string()),
    "int": KindTypes("INTEGER", "int", pa.int32()),
    "bigint": KindTypes("BIGINT", "bigint", pa.int64()),
    "map": KindTypes("MAP(VARCHAR, VARCHAR)", "map<string,string>", pa.map_(pa.string(), pa.string())),
}


@dataclass(frozen=True)
class Column:
    """One column. ``required``: NOT NULL in the warehouse; for a log field also "the file must
    have the column and every row a non-empty value". ``values``: the allowed values of an enum."""

    name: str
    kind: Kind
    required: bool = False
    values: tuple[str, ...] = ()

    @property
    def duckdb_type(self) -> str:
        return KIND_TYPES[self.kind].duckdb

    @property
    def spark_type(self) -> str:
        return KIND_TYPES[self.kind].spark

    @property
    def arrow_type(self) -> pa.DataType:
        return KIND_TYPES[self.kind].arrow

    def ddl(self) -> str:
        return f"{self.name} {self.duckdb_type}" + (" NOT NULL" if self.required else "")


class Check(NamedTuple):
    """A row check: a SQL condition over the typed columns, and the reason given when it holds."""

    condition: str
    reason: str


def _find(columns: tuple[Column, ...], name: str, missing: str) -> Column:
    for c in columns:
        if c.name == name:
            return c
    raise KeyError(missing)


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    primary_key: str | None = None

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return _find(self.columns, name, f"{self.name} has no column {name!r}")

    def ddl(self) -> str:
        """The column list of CREATE TABLE."""
        parts = [c.ddl() for c in self.columns]
        if self.primary_key:
            parts.append(f"PRIMARY KEY ({self.primary_key})")
        return ", ".join(parts)


# Stored after the fields of every log table.
LOG_BOOKKEEPING: tuple[Column, ...] = (
    Column("extra", "map"),  # the file's columns beyond the schema (nested values as JSON text)
    Column("source_file", "text"),
    Column("ingested_at", "ts", True),
)
# The integer key of ``user_id`` (table ``user_keys``), stored after the bookkeeping columns of the
# tables with a user_id. Filled by ingest's INSERT (abkit.warehouse.add_user_keys first); the analysis groups
# and joins on it where every row has one. NULL for rows written by other means.
USER_KEY = Column("user_key", "int")


@dataclass(frozen=True)
class LogTable:
    """A table users' logs supply.

    ``key`` deduplicates rows (first write wins). ``checks`` run after the per-field checks
    (:func:`row_checks`); ``warnings`` keep the row but count it; ``fixes`` replace a typed
    column after validation. ``copy_order`` picks which in-file copy of a key is kept where the
    arrival order is unknown (raw files read by an engine); optional columns sort NULLS LAST.
    """

    name: str
    key: str
    fields: tuple[Column, ...]
    checks: tuple[Check, ...] = ()
    warnings: tuple[Check, ...] = ()
    fixes: dict[str, str] = field(default_factory=dict)
    copy_order: tuple[str, ...] = ()
    keyed: bool = False  # stores USER_KEY, the integer key of its user_id


    @property
    def required(self) -> list[str]:
        return [f.name for f in self.fields if f.required]

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    def field(self, name: str) -> Column:
        return _find(self.fields, name, f"{self.name} has no field {name!r}")

    @property
    def table(self) -> Table:
        return Table(self.name, self.fields + LOG_BOOKKEEPING + ((USER_KEY,) if self.keyed else ()))

    def arrow_schema(self, *extra: tuple[str, pa.DataType]) -> pa.Schema:
        """The fields as an Arrow schema (+ ``extra`` columns a writer adds, e.g. platform)."""
        return pa.schema([(f.name, f.arrow_type) for f in self.fields] + list(extra))


LOG_TABLES: dict[str, LogTable] = {
    t.name: t
    for t in (
        LogTable(
            "exposures",
            "event_id",
            (
                Column("event_id", "id", True),
                Column("ts", "ts", True),
                Column("experiment", "text", True),
                Column("user_id", "id", True),
                Column("item_id", "id", True),
                Column("arm", "text", True),
                Column("reason_id", "id"),
                Column("fallback", "bool"),
            ),
            copy_order=("ts", "user_id", "item_id", "experiment", "arm", "reason_id"),
            keyed=True,
        ),
        LogTable(
            "events",
            "event_id",
            (
                Column("event_id", "id", True),
                Column("ts", "ts", True),
                Column("user_id", "id", True),
                Column("item_id", "id", True),
                Column("type", "enum", True, EVENT_TYPES),
                Column("revenue", "double"),
                Column("order_id", "id"),
            ),
            checks=(Check("revenue < 0", "negative revenue"),),
            warnings=(Check("type = 'order' AND revenue IS NULL", "order without revenue (stored as 0)"),),
            fixes={"revenue": "CASE WHEN type = 'order' AND revenue IS NULL THEN CAST(0 AS DOUBLE) ELSE revenue END"},
            copy_order=("ts", "user_id", "item_id", "type", "revenue", "order_id"),
            keyed=True,
        ),
        LogTable(
            "reasons",
            "reason_id",
            (
                Column("reason_id", "id", True),
                Column("experiment", "text"),
                Column("arm", "text"),
                Column("item_id", "id", True),
                Column("segment", "text"),
                Column("text", "text", True),
                Column("generator", "text"),
                Column("model_version", "text"),
                Column("created_at", "ts"),
            ),
        ),
        LogTable(
            "items",
            "item_id",
            (
                Column("item_id", "id", True),
                Column("category", "text"),
                Column("brand", "text"),
                Column("title", "text"),
                Column("price", "double"),
                Column("discount", "double"),
                Column("attributes", "json"),
            ),
            checks=(
                Check("price < 0", "negative price"),
                Check("discount < 0 OR discount >= 1", "discount outside [0, 1)"),
            ),
        ),
        LogTable("users", "user_id", (Column("user_id", "id", True), Column("segment", "text")), keyed=True),
    )
}

EXPERIMENT_STATES: tuple[str, ...] = ("draft", "running", "stopped", "shipped", "rolled_back")
TEXT_LABELS: tuple[str, ...] = ("faithful", "contradicting", "unsupported", "subjective", "banned")

# abkit's own tables at the current SCHEMA_VERSION (abkit/warehouse.py migrates older files).
OWN_TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table("quarantine", (
            Column("table_name", "text", True),
            Column("file", "text", True),
            Column("line", "bigint"),
            Column("raw", "text"),
            Column("reason", "text", True),
            Column("ingested_at", "ts", True),
        )),
        Table("results", (
            Column("experiment", "text", True),
            Column("computed_at", "ts", True),
            Column("as_of", "ts"),
            Column("result", "json", True),
        )),
        # One row per state change (EXPERIMENT_STATES); the latest row is the current state.
        Table("lifecycle", (
            Column("experiment", "text", True),
            Column("state", "text", True),
            Column("changed_at", "ts", True),
            Column("note", "text"),
            Column("actor", "text"),  # who: a token name, --user or the OS user
        )),
        # The history of rollout coverage; an experiment's current coverage is its latest row.
        # A ship is a phase whose rows name the shipped arm (covered users all get it).
        Table("coverage_steps", (
            Column("experiment", "text", True),
            Column("phase", "int", True),
            Column("coverage", "double", True),
            Column("hash_seed", "text"),
            Column("step_at", "ts", True),
            Column("actor", "text"),
            Column("reason", "text"),
            Column("shipped_arm", "text"),
        )),
        # Incremental refresh: what an experiment's stored analysis covers.
        Table("analysis_state", (
            Column("experiment", "text"),
            Column("spec_hash", "text"),
            Column("watermark", "ts"),
            Column("updated_at", "ts"),
        ), primary_key="experiment"),
        # Reviewers' labels of reason texts (TEXT_LABELS).
        Table("text_labels", (
            Column("experiment", "text"),
            Column("arm", "text"),
            Column("item_id", "id"),
            Column("text", "text"),
            Column("label", "text"),
            Column("labeler", "text"),
            Column("labeled_at", "ts"),
            Column("note", "text"),
        )),
        # Dictionary of user ids: one integer key per distinct user_id of the keyed log tables.
        Table("user_keys", (
            Column("user_id", "id", True),
            Column("user_key", "int", True),
        )),
        Table("schema_version", (
            Column("version", "int", True),
            Column("applied_at", "ts", True),
        )),
    )
}

TABLES: dict[str, Table] = {**{t.name: t.table for t in LOG_TABLES.values()}, **OWN_TABLES}
KEYED_TABLES: tuple[str, ...] = tuple(t.name for t in LOG_TABLES.values() if t.keyed)

# Reason wording of a present-but-unusable value, by kind.
_BAD_VALUE = {"ts": "unparseable {}", "double": "{} is not a number", "bool": "{} is not a boolean",
              "json": "bad JSON {}", "id": "{} is a list or object, not an id"}


def blank_condition(name: str) -> str:
    """SQL: the text is empty or only spaces, tabs and line breaks (portable: no regex).

    Blank text sorts before '!' (it is empty or its first byte is one of those four, all below
    0x21), so that cheap comparison spares almost every value the replace/trim chain."""
    spaced = f"replace(replace(replace({name}, chr(9), ' '), chr(10), ' '), chr(13), ' ')"
    return f"({name} < '!' AND trim({spaced}) = '')"


def missing_condition(f: Column) -> str:
    """SQL: the typed value counts as missing (text kinds: NULL or empty; ids: also only whitespace)."""
    if f.kind == "id":
        return f"{f.name} IS NULL OR {blank_condition(f.name)}"
    empty = f" OR {f.name} = ''" if f.kind in ("text", "enum") else ""
    return f"{f.name} IS NULL{empty}"


def _ts_text(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%d") if t.time() == dt.time(0) else t.isoformat(sep=" ")


@dataclass(frozen=True)
class Plausible:
    """Values that parse but cannot be real data (a timestamp in year 1 or 9999, ``infinity``,
    ``epoch``; a revenue of 1e308) are quarantined with a reason. Timestamps must lie in
    [ts_min, ts_max) (naive UTC), revenue at most ``revenue_max``. ``abkit ingest --ts-range
    --max-revenue`` overrides them (docs/interface.md, Data)."""

    ts_min: dt.datetime = dt.datetime(2000, 1, 1)
    ts_max: dt.datetime = dt.datetime(2100, 1, 1)
    revenue_max: float = 1e9

    def __post_init__(self) -> None:
        if not self.ts_min < self.ts_max:
            raise ValueError(f"timestamp range [{self.ts_min}, {self.ts_max}) is empty")
        if not (math.isfinite(self.revenue_max) and self.revenue_max >= 0):
            raise ValueError(f"maximum revenue {self.revenue_max!r} must be a finite number >= 0")

    def checks(self, table: LogTable) -> list[Check]:
        """Portable SQL over the typed columns (values come from this validated object only)."""
        lo, hi = (f"CAST('{t.isoformat(sep=' ')}' AS TIMESTAMP)" for t in (self.ts_min, self.ts_max))
        out = [Check(f"{f.name} < {lo} OR {f.name} >= {hi}",
                     f"{f.name} outside [{_ts_text(self.ts_min)}, {_ts_text(self.ts_max)})")
               for f in table.fields if f.kind == "ts"]
        if "revenue" in table.names:
            out.append(Check(f"revenue > CAST('{self.revenue_max!r}' AS DOUBLE)",
                             f"revenue above {self.revenue_max:,.15g}"))
        return out


PLAUSIBLE = Plausible()


def sql_list(values: tuple[str, ...]) -> str:
    """Fixed values from this module as a SQL list literal (they contain no quotes)."""
    if any("'" in v for v in values):
        raise ValueError(f"quote in a schema value: {values}")
    return ", ".join(f"'{v}'" for v in values)


def row_checks(table: LogTable, bad: dict[str, str], plausible: Plausible = PLAUSIBLE) -> list[Check]:
    """The row checks in the order ingest and the cleaning SQL apply them; the first that holds
    is the row's reason. Per field: ``bad[name]`` (a present value that does not parse, SQL that
    differs by reader), missing (required fields; an id of only whitespace is missing), an id
    with a NUL byte or (optional ids) only whitespace, not an allowed value (enums); then the
    table's own checks; then the plausible ranges (:class:`Plausible`)."""
    out: list[Check] = []
    for f in table.fields:
        if f.name in bad:
            out.append(Check(bad[f.name], _BAD_VALUE[f.kind].format(f.name)))
        if f.required:
            out.append(Check(missing_condition(f), f"missing {f.name}"))
        if f.kind == "id":
            if not f.required:
                out.append(Check(f"{f.name} IS NOT NULL AND {blank_condition(f.name)}", f"blank {f.name}"))
            out.append(Check(f"instr({f.name}, chr(0)) > 0", f"NUL byte in {f.name}"))
        if f.values:
            out.append(Check(f"{f.name} NOT IN ({sql_list(f.values)})", f"unknown event {f.name}"))
    return out + list(table.checks) + plausible.checks(table)

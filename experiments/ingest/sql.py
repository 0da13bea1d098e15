"""SQL building blocks of ingestion: the per-table field schema and the typed/validated select.

Every stage reads from a *source relation* with columns ``__ord`` (0-based record ordinal),
``__raw`` (the raw line where there is one, else NULL), ``__bad`` (a reason the whole record
is unusable, else NULL), ``__extra`` (the columns beyond the schema, as a map) and
``c0 .. cN`` (the file's columns under synthetic names). Column names from files never enter
SQL text: they are mapped to ``c<i>`` (or positional ``#i``) in Python and, where they must
appear in data (the ``extra`` map, the quarantined raw row), are bound parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from abkit.warehouse import check_identifier

EVENT_TYPES = ("click", "cart", "order", "refund")


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # id | text | ts | double | bool | json | enum
    required: bool = False  # column must exist and every row must have a value


@dataclass(frozen=True)
class TableSchema:
    name: str
    key: str
    fields: tuple[Field, ...]
    # extra row checks, in order: (SQL condition over typed columns, reason)
    checks: tuple[tuple[str, str], ...] = ()
    # (SQL condition, warning key): rows kept but counted as a data-quality warning
    warnings: tuple[tuple[str, str], ...] = ()
    # typed column -> SQL replacing it after validation (e.g. an order's null revenue -> 0)
    fixes: dict[str, str] = field(default_factory=dict)

    @property
    def required(self) -> list[str]:
        return [f.name for f in self.fields if f.required]

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]


SCHEMAS: dict[str, TableSchema] = {
    "exposures": TableSchema(
        "exposures",
        "event_id",
        (
            Field("event_id", "id", True),
            Field("ts", "ts", True),
            Field("experiment", "text", True),
            Field("user_id", "id", True),
            Field("item_id", "id", True),
            Field("arm", "text", True),
            Field("reason_id", "id"),
            Field("fallback", "bool"),
        ),
    ),
    "events": TableSchema(
        "events",
        "event_id",
        (
            Field("event_id", "id", True),
            Field("ts", "ts", True),
            Field("user_id", "id", True),
            Field("item_id", "id", True),
            Field("type", "enum", True),
            Field("revenue", "double"),
            Field("order_id", "id"),
        ),
        checks=(("revenue < 0", "negative revenue"),),
        warnings=(("type = 'order' AND revenue IS NULL", "order without revenue (stored as 0)"),),
        fixes={"revenue": "CASE WHEN type = 'order' AND revenue IS NULL THEN 0.0 ELSE revenue END"},
    ),
    "reasons": TableSchema(
        "reasons",
        "reason_id",
        (
            Field("reason_id", "id", True),
            Field("experiment", "text"),
            Field("arm", "text"),
            Field("item_id", "id", True),
            Field("segment", "text"),
            Field("text", "text", True),
            Field("generator", "text"),
            Field("model_version", "text"),
            Field("created_at", "ts"),
        ),
    ),
    "items": TableSchema(
        "items",
        "item_id",
        (
            Field("item_id", "id", True),
            Field("category", "text"),
            Field("brand", "text"),
            Field("title", "text"),
            Field("price", "double"),
            Field("discount", "double"),
            Field("attributes", "json"),
        ),
        checks=(
            ("price < 0", "negative price"),
            ("discount < 0 OR discount >= 1", "discount outside [0, 1)"),
        ),
    ),
    "users": TableSchema("users", "user_id", (Field("user_id", "id", True), Field("segment", "text"))),
}

_TIMESTAMP_TYPES = ("TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S", "DATE", "TIMESTAMP_US")
_TEXT_TYPES = ("VARCHAR", "JSON")


def is_nested(duck_type: str) -> bool:
    return duck_type.startswith(("STRUCT", "MAP", "UNION")) or duck_type.endswith("]")


def as_text(col: str, duck_type: str) -> str:
    """A source column as VARCHAR (nested values as JSON text)."""
    if duck_type in _TEXT_TYPES:
        return col
    if is_nested(duck_type):
        return f"CAST(to_json({col}) AS VARCHAR)"
    return f"CAST({col} AS VARCHAR)"


class TypeProblem(ValueError):
    """A whole column has a type the field cannot take (a file-level error)."""


def typed_expr(f: Field, col: str | None, duck_type: str) -> tuple[str, str | None]:
    """(typed SQL expression, SQL condition meaning 'value present but unparseable' or None)."""
    if col is None:
        sql_type = {"ts": "TIMESTAMP", "double": "DOUBLE", "bool": "BOOLEAN", "json": "JSON"}.get(f.kind, "VARCHAR")
        return f"CAST(NULL AS {sql_type})", None
    text = as_text(col, duck_type)
    if f.kind == "id":
        return (f"NULLIF({text}, '')" if not f.required else text), None
    if f.kind == "text":
        return text, None
    if f.kind == "enum":
        return f"lower(trim({text}))", None
    present = f"NULLIF(trim({text}), '') IS NOT NULL" if duck_type in _TEXT_TYPES else f"{col} IS NOT NULL"
    if f.kind == "ts":
        if duck_type in _TEXT_TYPES:
            # the ingest session runs with TimeZone = UTC: no offset means UTC, and the cast
            # TIMESTAMPTZ -> TIMESTAMP gives naive UTC (much cheaper than timezone('UTC', ...))
            expr = f"CAST(TRY_CAST({col} AS TIMESTAMPTZ) AS TIMESTAMP)"
        elif duck_type == "TIMESTAMP WITH TIME ZONE":
            expr = f"CAST({col} AS TIMESTAMP)"  # session TimeZone is UTC
        elif duck_type in _TIMESTAMP_TYPES:
            expr = f"CAST({col} AS TIMESTAMP)"
        else:
            raise TypeProblem(f"has type {duck_type}, expected a timestamp or ISO 8601 text")
        return expr, f"{expr} IS NULL AND {present}"
    if f.kind == "double":
        if is_nested(duck_type) or duck_type in ("BOOLEAN",) or duck_type.startswith(("TIMESTAMP", "DATE")):
            raise TypeProblem(f"has type {duck_type}, expected a number")
        src = f"NULLIF(trim({col}), '')" if duck_type in _TEXT_TYPES else col
        expr = f"TRY_CAST({src} AS DOUBLE)"
        return expr, f"({expr} IS NULL OR NOT isfinite({expr})) AND {present}"
    if f.kind == "bool":
        if is_nested(duck_type):
            raise TypeProblem(f"has type {duck_type}, expected a boolean")
        src = f"lower(trim({col}))" if duck_type in _TEXT_TYPES else col
        expr = f"TRY_CAST({src} AS BOOLEAN)"
        return expr, f"{expr} IS NULL AND {present}"
    if f.kind == "json":
        if is_nested(duck_type):
            return f"to_json({col})", None
        if duck_type not in _TEXT_TYPES:
            raise TypeProblem(f"has type {duck_type}, expected a JSON object")
        ok = f"coalesce(CASE WHEN json_valid({col}) THEN json_type({col}) END = 'OBJECT', false)"
        expr = f"CASE WHEN {ok} THEN CAST({col} AS JSON) END"
        return expr, f"{col} IS NOT NULL AND NOT {ok} AND {present}"
    raise AssertionError(f.kind)


_BAD_REASON = {"ts": "unparseable {}", "double": "{} is not a number", "bool": "{} is not a boolean",
               "json": "bad JSON {}"}


def stage_select(
    schema: TableSchema,
    columns: dict[str, tuple[str, str]],
    raw_sql: str,
    source_sql: str,
) -> str:
    """The SELECT that types and validates one file's rows.

    columns: field name -> (source column ``c<i>``, DuckDB type); absent fields are missing.
    Output columns: ord, the schema's fields, extra, reason, warn, raw.
    """
    typed, bad_checks = [], []
    for f in schema.fields:
        col, duck_type = columns.get(f.name, (None, "VARCHAR"))
        try:
            expr, bad = typed_expr(f, col, duck_type)
        except TypeProblem as exc:
            raise TypeProblem(f"column {f.name!r} {exc}") from None
        typed.append(f"{expr} AS {check_identifier(f.name)}")
        if bad is not None:  # before "missing": an unparseable value also types as NULL
            bad_checks.append((bad, _BAD_REASON[f.kind].format(f.name)))
        if f.required:
            empty = f" OR {f.name} = ''" if f.kind in ("id", "text", "enum") else ""
            bad_checks.append((f"{f.name} IS NULL{empty}", f"missing {f.name}"))
        if f.kind == "enum":
            allowed = ", ".join(f"'{t}'" for t in EVENT_TYPES)
            bad_checks.append((f"{f.name} NOT IN ({allowed})", f"unknown event {f.name}"))
    bad_checks.extend(schema.checks)
    whens = " ".join(f"WHEN {cond} THEN '{reason}'" for cond, reason in bad_checks)
    warn = " OR ".join(f"({cond})" for cond, _ in schema.warnings) or "false"
    out_cols = [f"{schema.fixes.get(n, n)} AS {n}" for n in schema.names]
    # Validation conditions reference the typed columns by name, so they live one level up.
    return f"""
        SELECT ord, {", ".join(out_cols)}, extra, reason, ({warn}) AND reason IS NULL AS warn,
               CASE WHEN reason IS NOT NULL THEN CAST(COALESCE(__raw, CAST({raw_sql} AS VARCHAR)) AS VARCHAR) END AS raw
        FROM (
            SELECT *, CASE WHEN __bad IS NOT NULL THEN __bad {whens} END AS reason
            FROM (
                SELECT __ord AS ord, __raw, __bad, {", ".join(typed)}, __extra AS extra, src.*
                    EXCLUDE (__ord, __raw, __bad, __extra)
                FROM ({source_sql}) src
            )
        )"""

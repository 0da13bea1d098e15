"""SQL building blocks of ingestion: the typed and validated select of one file's rows.

The tables, their fields and row checks come from ``abkit/schema.py``.

Every stage reads from a *source relation* with columns ``__ord`` (0-based record ordinal),
``__raw`` (the raw line where there is one, else NULL), ``__bad`` (a reason the whole record
is unusable, else NULL), ``__extra`` (the columns beyond the schema, as a map) and
``c0 .. cN`` (the file's columns under synthetic names). Column names from files never enter
SQL text: they are mapped to ``c<i>`` (or positional ``#i``) in Python and, where they must
appear in data (the ``extra`` map, the quarantined raw row), are bound parameters.
"""

from __future__ import annotations

from abkit.schema import PLAUSIBLE, Column, LogTable, Plausible, row_checks, sql_list
from abkit.warehouse import check_identifier

_TIMESTAMP_TYPES = ("TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S", "DATE", "TIMESTAMP_US")
_TEXT_TYPES = ("VARCHAR", "JSON")
# RFC 3339 allows a lowercase t and z; DuckDB's cast wants them uppercase.
_UPPER_T = r"'^(\s*[0-9]{4}-[0-9]{2}-[0-9]{2})t'"
_UPPER_Z = r"'z(\s*)$'"
# An offset beyond ±23:59 (e.g. +25:00) is no real time zone, though DuckDB would apply it.
_BAD_OFFSET = r"'[0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?\s*[+-](2[4-9]|[3-9][0-9]):?[0-9]{2}\s*$'"


def utc_naive(tstz: str) -> str:
    """SQL: a TIMESTAMPTZ -> its naive UTC TIMESTAMP (``tstz`` is evaluated once per row, twice
    only where it is NULL or infinite).

    A finite instant's microseconds since the epoch are its UTC wall clock, so ``make_timestamp``
    of them is the value; the ICU cast TIMESTAMPTZ -> TIMESTAMP (in the session TimeZone, UTC
    during ingest) gives the same but costs ~0.1 s per million rows, a third of the parse.
    Infinities, for which ``epoch_us`` is NULL, fall back to the cast."""
    return f"coalesce(make_timestamp(epoch_us({tstz})), CAST({tstz} AS TIMESTAMP))"


def parse_ts_text(col: str) -> str:
    """SQL: ISO 8601 / RFC 3339 text -> naive UTC TIMESTAMP (NULL when it does not parse).

    No offset means UTC: the ingest session runs with TimeZone = UTC."""
    upper = (f"CASE WHEN contains({col}, 't') OR contains({col}, 'z') "
             f"THEN regexp_replace(regexp_replace({col}, {_UPPER_T}, '\\1T'), {_UPPER_Z}, 'Z\\1') ELSE {col} END")
    # Text ending in Z cannot end in an offset: the common form skips the regex.
    return (f"CASE WHEN suffix({col}, 'Z') OR NOT regexp_matches({col}, {_BAD_OFFSET}) "
            f"THEN {utc_naive(f'TRY_CAST({upper} AS TIMESTAMPTZ)')} END")


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


def typed_expr(f: Column, col: str | None, duck_type: str) -> tuple[str, str | None]:
    """(typed SQL expression, SQL condition meaning 'value present but unparseable' or None).

    The condition is evaluated one level above the typed expression and refers to its result by
    the field's name, so every value is parsed once (a timestamp parse is the costliest check)."""
    if col is None:
        return f"CAST(NULL AS {f.duckdb_type})", None
    text = as_text(col, duck_type)
    if f.kind == "id":
        typed = f"NULLIF({text}, '')" if not f.required else text
        # a list or struct is not an id (its JSON text would otherwise pass for one)
        return typed, (f"{col} IS NOT NULL" if is_nested(duck_type) else None)
    if f.kind == "text":
        return text, None
    if f.kind == "enum":
        if not f.values:
            return f"lower(trim({text}))", None
        # a value already in its stored form skips lower/trim (half the CPU of the field)
        return f"CASE WHEN {text} IN ({sql_list(f.values)}) THEN {text} ELSE lower(trim({text})) END", None
    present = f"NULLIF(trim({text}), '') IS NOT NULL" if duck_type in _TEXT_TYPES else f"{col} IS NOT NULL"
    if f.kind == "ts":
        if duck_type in _TEXT_TYPES:
            expr = parse_ts_text(col)
        elif duck_type == "TIMESTAMP WITH TIME ZONE":
            expr = utc_naive(col)
        elif duck_type in _TIMESTAMP_TYPES:
            expr = f"CAST({col} AS TIMESTAMP)"
        else:
            raise TypeProblem(f"has type {duck_type}, expected a timestamp or ISO 8601 text")
        return expr, f"{f.name} IS NULL AND {present}"
    if f.kind == "double":
        if is_nested(duck_type) or duck_type in ("BOOLEAN",) or duck_type.startswith(("TIMESTAMP", "DATE")):
            raise TypeProblem(f"has type {duck_type}, expected a number")
        # text: DuckDB would read "1_000" as 1000; a log's number has no digit separators
        src = f"CASE WHEN NOT contains({col}, '_') THEN NULLIF(trim({col}), '') END" if duck_type in _TEXT_TYPES \
            else col
        expr = f"TRY_CAST({src} AS DOUBLE)"
        return expr, f"({f.name} IS NULL OR NOT isfinite({f.name})) AND {present}"
    if f.kind == "bool":
        if is_nested(duck_type):
            raise TypeProblem(f"has type {duck_type}, expected a boolean")
        src = f"lower(trim({col}))" if duck_type in _TEXT_TYPES else col
        expr = f"TRY_CAST({src} AS BOOLEAN)"
        return expr, f"{f.name} IS NULL AND {present}"
    if f.kind == "json":
        if is_nested(duck_type):
            return f"to_json({col})", None
        if duck_type not in _TEXT_TYPES:
            raise TypeProblem(f"has type {duck_type}, expected a JSON object")
        ok = f"coalesce(CASE WHEN json_valid({col}) THEN json_type({col}) END = 'OBJECT', false)"
        expr = f"CASE WHEN {ok} THEN CAST({col} AS JSON) END"
        return expr, f"{col} IS NOT NULL AND NOT {ok} AND {present}"
    raise AssertionError(f.kind)


def stage_select(
    schema: LogTable,
    columns: dict[str, tuple[str, str]],
    raw_sql: str,
    source_sql: str,
    plausible: Plausible = PLAUSIBLE,
) -> str:
    """The SELECT that types and validates one file's rows.

    columns: field name -> (source column ``c<i>``, DuckDB type); absent fields are missing.
    Output columns: ord, the schema's fields, extra, reason, warn, raw.
    """
    typed, bad = [], {}
    for f in schema.fields:
        col, duck_type = columns.get(f.name, (None, "VARCHAR"))
        try:
            expr, unparseable = typed_expr(f, col, duck_type)
        except TypeProblem as exc:
            raise TypeProblem(f"column {f.name!r} {exc}") from None
        typed.append(f"{expr} AS {check_identifier(f.name)}")
        if unparseable is not None:  # checked before "missing": an unparseable value also types as NULL
            bad[f.name] = unparseable
    whens = " ".join(f"WHEN {c.condition} THEN '{c.reason}'" for c in row_checks(schema, bad, plausible))
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

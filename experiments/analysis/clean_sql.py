"""The slots of experiments/analysis/sql/clean_table.sql, generated from abkit/schema.py.

Raw values are typed with portable SQL (DuckDB and Spark); the checks are abkit/schema.py's
``row_checks``, so a raw row fails for the same reason, in the same order, as in `abkit ingest`.
"""

from __future__ import annotations

from abkit.schema import LOG_TABLES, Column, LogTable, row_checks

# Tables that engines validate and deduplicate themselves (the others are read as they are).
CLEANED_TABLES = ("exposures", "events")
_MAX_DOUBLE = "1.7976931348623157E308"


def _text(name: str) -> str:
    return f"NULLIF(TRIM(CAST({name} AS STRING)), '')"


def _typed(f: Column, parse_ts: str) -> tuple[list[str], str | None]:
    """(select expressions, 'present but unusable' condition) of one raw field."""
    n = f.name
    if f.kind == "id":
        return [f"CAST({n} AS STRING) AS {n}" if f.required else f"NULLIF(CAST({n} AS STRING), '') AS {n}"], None
    if f.kind == "text":
        return [f"CAST({n} AS STRING) AS {n}"], None
    if f.kind == "enum":
        return [f"LOWER(TRIM(CAST({n} AS STRING))) AS {n}"], None
    if f.kind == "ts":
        if n != "ts":  # the engine's parse_ts reads the column ts
            raise ValueError(f"cleaning SQL parses only the timestamp column ts, not {n!r}")
        return [f"{parse_ts} AS ts", f"{_text(n)} AS ts_text"], "ts IS NULL AND ts_text IS NOT NULL"
    if f.kind == "double":
        # as ingest: digit separators ("1_000", which DuckDB would read as 1000) are not a number
        typed = f"TRY_CAST(CASE WHEN instr(CAST({n} AS STRING), '_') = 0 THEN {n} END AS DOUBLE)"
        return ([f"{typed} AS {n}", f"{_text(n)} AS {n}_text"],
                f"{n}_text IS NOT NULL AND ({n} IS NULL OR NOT (abs({n}) <= {_MAX_DOUBLE}))")
    if f.kind == "bool":
        return ([f"TRY_CAST(LOWER(TRIM(CAST({n} AS STRING))) AS BOOLEAN) AS {n}", f"{_text(n)} AS {n}_text"],
                f"{n} IS NULL AND {n}_text IS NOT NULL")
    raise ValueError(f"no cleaning SQL for {f.kind} field {n!r}")


def clean_slots(table: str, parse_ts: str) -> dict[str, str]:
    """typed_columns, checks, key and copy_order of clean_table.sql for ``table``.

    ``parse_ts`` is the engine's fixed expression turning the raw column ts into naive UTC."""
    if table not in CLEANED_TABLES:
        raise KeyError(f"no cleaning SQL for {table!r}")
    schema = LOG_TABLES[table]
    typed, bad = [], {}
    for f in schema.fields:
        exprs, unusable = _typed(f, parse_ts)
        typed += exprs
        if unusable is not None:
            bad[f.name] = unusable
    checks = [f"            WHEN {c.condition} THEN '{c.reason}'" for c in row_checks(schema, bad)]
    order = [n if schema.field(n).required else f"{n} NULLS LAST" for n in schema.copy_order]
    return {
        "typed_columns": ",\n".join(f"        {e}" for e in typed),
        "checks": "\n".join(checks),
        "key": schema.key,
        "copy_order": ", ".join(order),
    }


def clean_columns(table: str) -> list[str]:
    """The select list of a cleaned table: its fields (fixes applied) and extra."""
    schema: LogTable = LOG_TABLES[table]
    return [f"{schema.fixes[n]} AS {n}" if n in schema.fixes else n for n in schema.names] + ["extra"]

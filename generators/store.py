"""The one writer of the `reasons` table.

Writes are idempotent: a batch is inserted with an anti-join on reason_id inside one
transaction, so re-running (or resuming) a generation never duplicates a row. Everything
beyond the contract columns goes into `extra` as strings: 'ai_generated' ('true'/'false',
for the AI-content label Chinese regulations require), 'settings_hash', and the reason's
features (JSON for lists/dicts, 'true'/'false' for booleans).

Two entry points, one INSERT: `write_reasons` takes Reason objects (the neural generator),
`write_reason_table` an Arrow table whose columns beyond the contract ones are the features,
already as text or booleans (the columnar template generator); its `extra` map is built as Arrow columns.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, overload

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from abkit.warehouse import transaction
from generators.base import Reason

SOURCE = "abkit generate"


@overload
def _as_string(value: bool) -> str: ...
@overload
def _as_string(value: Any) -> str | None: ...
def _as_string(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict, tuple)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def _extra(reason: Reason) -> tuple[list[str], list[str]]:
    feats = dict(reason.features)
    ai = feats.pop("ai_generated", reason.generator != "template")
    pairs = {"ai_generated": _as_string(bool(ai)), "settings_hash": reason.settings_hash}
    for key, value in feats.items():
        text = _as_string(value)
        if text is not None:
            pairs[str(key)] = text
    return list(pairs), list(pairs.values())


def write_reasons(con: duckdb.DuckDBPyConnection, reasons: list[Reason], experiment: str) -> int:
    """Insert the reasons not yet stored (by reason_id); returns how many rows were written."""
    if not reasons:
        return 0
    keys, values = zip(*(_extra(r) for r in reasons), strict=True)
    batch = pa.table({
        "reason_id": [r.reason_id for r in reasons],
        "arm": [r.arm for r in reasons],
        "item_id": [r.item_id for r in reasons],
        "segment": [r.segment for r in reasons],
        "text": [r.text for r in reasons],
        "generator": [r.generator for r in reasons],
        "model_version": [r.model_version for r in reasons],
        "extra_keys": pa.array(keys, type=pa.list_(pa.string())),
        "extra_values": pa.array(values, type=pa.list_(pa.string())),
    })
    return _insert(con, batch, "map(b.extra_keys, b.extra_values)", experiment,
                   unique=len(set(batch.column("reason_id").to_pylist())) == len(reasons))


_BASE = ("reason_id", "arm", "item_id", "segment", "text", "generator", "model_version")


def write_reason_table(con: duckdb.DuckDBPyConnection, table: pa.Table, experiment: str) -> int:
    """write_reasons for a columnar batch: the contract columns, `settings_hash`, and one column per feature
    (strings as stored, booleans as 'true'/'false', nulls left out of `extra`); `extra` holds, in the order of
    write_reasons, ai_generated, settings_hash, then the features. The map is built as Arrow columns."""
    if table.num_rows == 0:
        return 0
    n = table.num_rows
    features = [c for c in table.column_names if c not in _BASE and c not in ("settings_hash", "ai_generated")]
    ai = table.column("ai_generated") if "ai_generated" in table.column_names else \
        pc.not_equal(table.column("generator"), "template")
    names = ["ai_generated", "settings_hash", *features]
    values = [_text(pc.fill_null(ai, False)), _text(table.column("settings_hash"))] + \
        [_text(table.column(f)) for f in features]
    present = np.stack([pc.is_valid(v).to_numpy(zero_copy_only=False) for v in values], axis=1)
    row, key = np.nonzero(present)  # row-major: each row's entries in the order of names
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(present.sum(axis=1), out=offsets[1:])
    extra = pa.MapArray.from_arrays(pa.array(offsets), pa.array(names, pa.string()).take(pa.array(key)),
                                    pa.concat_arrays(values).take(pa.array(key * n + row)))
    ids = table.column("reason_id")
    return _insert(con, table.select(list(_BASE)).append_column("_abkit_extra", extra), "b._abkit_extra", experiment,
                   unique=pc.count_distinct(ids).as_py() == n and ids.null_count == 0)


def _text(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A feature column as stored text: booleans 'true'/'false', anything else cast to string."""
    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_boolean(column.type):
        return pc.if_else(column, "true", "false")
    return column.cast(pa.string())


def _insert(con: duckdb.DuckDBPyConnection, batch: pa.Table, extra_sql: str, experiment: str,
            unique: bool = False) -> int:
    """Insert the batch's reasons not yet stored (anti-join on reason_id), in one transaction; a batch that
    repeats a reason_id keeps one row of it (`unique`: the caller knows it does not, spare the DISTINCT ON)."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rows = "_abkit_reason_batch" if unique else "(SELECT DISTINCT ON (reason_id) * FROM _abkit_reason_batch)"
    con.register("_abkit_reason_batch", batch)
    try:
        with transaction(con):
            row = con.execute(
                f"""
                INSERT INTO reasons (reason_id, experiment, arm, item_id, segment, text, generator,
                                     model_version, created_at, extra, source_file, ingested_at)
                SELECT b.reason_id, ?, b.arm, b.item_id, b.segment, b.text, b.generator, b.model_version,
                       ?, {extra_sql}, ?, ?
                FROM {rows} b
                WHERE NOT EXISTS (SELECT 1 FROM reasons r WHERE r.reason_id = b.reason_id)
                """,  # extra_sql and rows are fixed text chosen above, never built from values
                [experiment, now, SOURCE, now],
            ).fetchone()
    finally:
        con.unregister("_abkit_reason_batch")
    return int(row[0]) if row else 0


def existing_reason_ids(con: duckdb.DuckDBPyConnection, experiment: str | None = None,
                        arm: str | None = None) -> set[str]:
    """reason_ids already stored, optionally only those of one experiment (and arm)."""
    sql = "SELECT reason_id FROM reasons WHERE (? IS NULL OR experiment = ?) AND (? IS NULL OR arm = ?)"
    rows = con.execute(sql, [experiment, experiment, arm, arm]).fetchall()
    return {r[0] for r in rows}

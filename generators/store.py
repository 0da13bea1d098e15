"""The one writer of the `reasons` table.

Writes are idempotent: a batch is inserted with an anti-join on reason_id inside one
transaction, so re-running (or resuming) a generation never duplicates a row. Everything
beyond the contract columns goes into `extra` as strings: 'ai_generated' ('true'/'false',
for the AI-content label Chinese regulations require), 'settings_hash', and the reason's
features (JSON for lists/dicts, 'true'/'false' for booleans).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import duckdb
import pyarrow as pa

from abkit.warehouse import transaction
from generators.base import Reason

SOURCE = "abkit generate"


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
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
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
    con.register("_abkit_reason_batch", batch)
    try:
        with transaction(con):
            row = con.execute(
                """
                INSERT INTO reasons (reason_id, experiment, arm, item_id, segment, text, generator,
                                     model_version, created_at, extra, source_file, ingested_at)
                SELECT b.reason_id, ?, b.arm, b.item_id, b.segment, b.text, b.generator, b.model_version,
                       ?, map(b.extra_keys, b.extra_values), ?, ?
                FROM (SELECT DISTINCT ON (reason_id) * FROM _abkit_reason_batch) b
                WHERE NOT EXISTS (SELECT 1 FROM reasons r WHERE r.reason_id = b.reason_id)
                """,
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

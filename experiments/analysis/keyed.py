"""The analysis over integer user keys: the same SQL, reading views that carry ``user_key`` as ``user_id``.

Grouping and joining 100M exposures on a short integer instead of a string id is what the stages
spend most of their time on (the hash tables, and decompressing the strings from storage). The
warehouse stores each row's key (abkit/warehouse.py: ``user_keys``, filled at ingest); where every
exposure, event and user row has one, the stage tables are built from views that expose the key
under the name ``user_id``, so every SQL file works unchanged. Keys are one-to-one with the ids,
so every per-arm sum, count and tie-break is the same; user ids never reach the result (only the
stage tables, which the analysis drops, hold keys instead).
"""

from __future__ import annotations

import dataclasses

import duckdb

from abkit.schema import KEYED_TABLES
from abkit.warehouse import user_keys_complete
from experiments.analysis import queries as q

VIEWS = {table: f"abkit_keyed_{table}" for table in KEYED_TABLES}


def keyed_relations(con: duckdb.DuckDBPyConnection, rel: q.Relations) -> q.Relations | None:
    """``rel`` reading the keyed views (created here as temp views), or None where the analysis must
    stay on the string ids: ``rel`` reads other relations than the warehouse tables, or some row
    lacks its key (written around ingest, or a file not yet migrated)."""
    if any(getattr(rel, t) != t for t in KEYED_TABLES) or not user_keys_complete(con):
        return None
    for table, view in VIEWS.items():
        con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS "
                    f"SELECT * EXCLUDE (user_id, user_key), user_key AS user_id FROM {table}")
    return dataclasses.replace(rel, **VIEWS)


def drop_keyed_views(con: duckdb.DuckDBPyConnection) -> None:
    for view in VIEWS.values():
        con.execute(f"DROP VIEW IF EXISTS {view}")

"""Reading small tables (candidate texts, items, reviewer labels) from CSV / TSV / JSON Lines / Parquet.

Id columns are read as strings ("00123" stays "00123"); unreadable files and missing columns
raise a one-line AbkitError naming the file and the column.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from abkit.errors import AbkitError

ID_COLUMNS = ("item_id", "reason_id", "user_id", "sample_id")


def read_table(path: str | Path, required: Iterable[str] = ()) -> pd.DataFrame:
    path = Path(path)
    if not path.exists():
        raise AbkitError(f"{path}: no such file")
    name = path.name.lower().removesuffix(".gz")
    try:
        if name.endswith((".parquet", ".pq")):
            df = pd.read_parquet(path)
        elif name.endswith((".csv", ".tsv")):
            df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""],
                             sep="\t" if name.endswith(".tsv") else ",")
        elif name.endswith((".jsonl", ".ndjson", ".json")):
            df = pd.read_json(path, lines=True, dtype=False)
        else:
            raise AbkitError(f"{path}: unknown file format (use .csv, .tsv, .jsonl or .parquet)")
    except AbkitError:
        raise
    except Exception as exc:  # pandas/pyarrow raise many types; the user needs one line
        raise AbkitError(f"{path}: cannot read ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    for col in required:
        if col not in df.columns:
            raise AbkitError(f"{path}: missing column {col!r}")
    for col in ID_COLUMNS:
        if col in df.columns:
            df[col] = df[col].map(lambda v: None if v is None or (isinstance(v, float) and pd.isna(v)) else str(v))
    return df


def read_items_db(db: str | Path, item_ids: Iterable[str] | None = None) -> pd.DataFrame:
    """The warehouse's items (optionally only some ids), attributes as JSON text."""
    from abkit.warehouse import connect

    con = connect(db, read_only=True)
    try:
        sql = ("SELECT item_id, category, brand, title, price, discount, CAST(attributes AS VARCHAR) AS attributes "
               "FROM items")
        if item_ids is None:
            return con.execute(sql).df()
        ids = sorted({i for i in item_ids if i is not None})
        return con.execute(sql + " WHERE item_id IN (SELECT unnest(?::VARCHAR[]))", [ids]).df()
    finally:
        con.close()

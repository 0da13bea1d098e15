-- Raw log rows -> the rows `abkit ingest` would store (docs/interface.md, Data), for engines that read log
-- files that never went through ingest (Spark; DuckDB over Parquet). Every row gets the reason it
-- is unusable (the first failed check, in ingest's order and wording) or NULL; usable rows are
-- numbered within their key (copy = 1 is kept, later copies are duplicates). The slots are
-- generated from abkit/schema.py by experiments/analysis/clean_sql.py. Portable SQL: STRING (an
-- alias of VARCHAR in DuckDB), TRY_CAST, window functions. A number is "not a number" when present
-- but unparseable or not finite: NOT (abs(r) <= max double) is true for NaN and ±Infinity in both
-- DuckDB and Spark (NaN sorts above every value).
typed AS (
    SELECT
{typed_columns},
        extra
    FROM {source}
),
checked AS (
    SELECT *,
        CASE
{checks}
        END AS reason
    FROM typed
),
ranked AS (
    SELECT *,
        row_number() OVER (
            PARTITION BY {key}, reason
            ORDER BY {copy_order}) AS copy
    FROM checked
)

-- Raw exposures -> the rows `abkit ingest` would store (docs/interface.md, Data), for engines that read log
-- files that never went through ingest (Spark; DuckDB over Parquet). Every row gets the reason it
-- is unusable (the first failed check, in ingest's order and wording) or NULL; usable rows are
-- numbered within their event_id (copy = 1 is kept, later copies are duplicates). Portable SQL:
-- STRING (an alias of VARCHAR in DuckDB), TRY_CAST, window functions; {parse_ts} is the
-- engine's text/timestamp -> naive UTC TIMESTAMP expression for the column ts.
typed AS (
    SELECT
        CAST(event_id AS STRING) AS event_id,
        {parse_ts} AS ts,
        NULLIF(TRIM(CAST(ts AS STRING)), '') AS ts_text,
        CAST(experiment AS STRING) AS experiment,
        CAST(user_id AS STRING) AS user_id,
        CAST(item_id AS STRING) AS item_id,
        CAST(arm AS STRING) AS arm,
        NULLIF(CAST(reason_id AS STRING), '') AS reason_id,
        TRY_CAST(LOWER(TRIM(CAST(fallback AS STRING))) AS BOOLEAN) AS fallback,
        NULLIF(TRIM(CAST(fallback AS STRING)), '') AS fallback_text,
        extra
    FROM {source}
),
checked AS (
    SELECT *,
        CASE
            WHEN event_id IS NULL OR event_id = '' THEN 'missing event_id'
            WHEN ts IS NULL AND ts_text IS NOT NULL THEN 'unparseable ts'
            WHEN ts IS NULL THEN 'missing ts'
            WHEN experiment IS NULL OR experiment = '' THEN 'missing experiment'
            WHEN user_id IS NULL OR user_id = '' THEN 'missing user_id'
            WHEN item_id IS NULL OR item_id = '' THEN 'missing item_id'
            WHEN arm IS NULL OR arm = '' THEN 'missing arm'
            WHEN fallback IS NULL AND fallback_text IS NOT NULL THEN 'fallback is not a boolean'
        END AS reason
    FROM typed
),
ranked AS (
    SELECT *,
        row_number() OVER (
            PARTITION BY event_id, reason
            ORDER BY ts, user_id, item_id, experiment, arm, reason_id NULLS LAST) AS copy
    FROM checked
)

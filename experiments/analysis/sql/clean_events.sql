-- Raw events -> the rows `abkit ingest` would store (docs/interface.md, Data); see clean_exposures.sql.
-- A revenue is "not a number" when present but unparseable or not finite: NOT (abs(r) <= max
-- double) is true for NaN and ±Infinity in both DuckDB and Spark (NaN sorts above every value).
typed AS (
    SELECT
        CAST(event_id AS STRING) AS event_id,
        {parse_ts} AS ts,
        NULLIF(TRIM(CAST(ts AS STRING)), '') AS ts_text,
        CAST(user_id AS STRING) AS user_id,
        CAST(item_id AS STRING) AS item_id,
        LOWER(TRIM(CAST(type AS STRING))) AS type,
        TRY_CAST(revenue AS DOUBLE) AS revenue,
        NULLIF(TRIM(CAST(revenue AS STRING)), '') AS revenue_text,
        NULLIF(CAST(order_id AS STRING), '') AS order_id,
        extra
    FROM {source}
),
checked AS (
    SELECT *,
        CASE
            WHEN event_id IS NULL OR event_id = '' THEN 'missing event_id'
            WHEN ts IS NULL AND ts_text IS NOT NULL THEN 'unparseable ts'
            WHEN ts IS NULL THEN 'missing ts'
            WHEN user_id IS NULL OR user_id = '' THEN 'missing user_id'
            WHEN item_id IS NULL OR item_id = '' THEN 'missing item_id'
            WHEN type IS NULL OR type = '' THEN 'missing type'
            WHEN type NOT IN ('click', 'cart', 'order', 'refund') THEN 'unknown event type'
            WHEN revenue_text IS NOT NULL
                 AND (revenue IS NULL OR NOT (abs(revenue) <= 1.7976931348623157E308)) THEN 'revenue is not a number'
            WHEN revenue < 0 THEN 'negative revenue'
        END AS reason
    FROM typed
),
ranked AS (
    SELECT *,
        row_number() OVER (
            PARTITION BY event_id, reason
            ORDER BY ts, user_id, item_id, type, revenue NULLS LAST, order_id NULLS LAST) AS copy
    FROM checked
)

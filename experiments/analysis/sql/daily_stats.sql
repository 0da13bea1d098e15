-- Per arm and day of the spec's time zone: newly triggered users (first exposure that day),
-- exposures, and the attributed clicks and orders of the exposures shown that day (each event
-- counts on the day of its anchoring exposure, {attributed}.anchor_ts), with running totals.
-- Exposures of analysis users are the window exposures minus the excluded users ({excluded}).
-- The local_* slots turn a naive UTC ts into local wall time: DuckDB
-- timezone($timezone, timezone('UTC', ts)); Spark from_utc_timestamp(ts, :timezone). That
-- conversion is costly per row, so rows are counted per UTC minute first and each minute is
-- converted once (a local day starts on a whole UTC minute in every zone since 1972).
WITH
{window_exposures},
shown_minutes AS (
    SELECT x.arm, date_trunc('minute', x.ts) AS minute, count(*) AS exposures
    FROM window_exposures x
    WHERE NOT EXISTS (SELECT 1 FROM {excluded} ex WHERE ex.user_id = x.user_id)
    GROUP BY x.arm, date_trunc('minute', x.ts)
),
shown_days AS (
    SELECT arm, day, sum(exposures) AS exposures
    FROM (SELECT s.arm, CAST({local_minute} AS DATE) AS day, s.exposures FROM shown_minutes s) d
    GROUP BY arm, day
),
first_minutes AS (
    SELECT u.arm, date_trunc('minute', u.first_exposure) AS minute, count(*) AS new_users
    FROM {per_user} u
    GROUP BY u.arm, date_trunc('minute', u.first_exposure)
),
firsts AS (
    SELECT arm, day, sum(new_users) AS new_users
    FROM (SELECT f.arm, CAST({local_first} AS DATE) AS day, f.new_users FROM first_minutes f) d
    GROUP BY arm, day
),
event_minutes AS (
    SELECT a.arm, date_trunc('minute', a.anchor_ts) AS minute,
           sum(CASE WHEN a.type = 'click' THEN 1 ELSE 0 END) AS clicks,
           sum(CASE WHEN a.type = 'order' THEN 1 ELSE 0 END) AS orders
    FROM {attributed} a
    WHERE a.type IN ('click', 'order')
    GROUP BY a.arm, date_trunc('minute', a.anchor_ts)
),
event_days AS (
    SELECT arm, day, sum(clicks) AS clicks, sum(orders) AS orders
    FROM (SELECT v.arm, CAST({local_event} AS DATE) AS day, v.clicks, v.orders FROM event_minutes v) d
    GROUP BY arm, day
),
days AS (
    SELECT d.arm, d.day,
           COALESCE(f.new_users, 0) AS new_users,
           d.exposures,
           COALESCE(v.clicks, 0) AS clicks,
           COALESCE(v.orders, 0) AS orders
    FROM shown_days d
    LEFT JOIN firsts f ON f.arm = d.arm AND f.day = d.day
    LEFT JOIN event_days v ON v.arm = d.arm AND v.day = d.day
)
SELECT arm, day, new_users, exposures, clicks, orders,
       sum(new_users) OVER (PARTITION BY arm ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cum_new_users,
       sum(exposures) OVER (PARTITION BY arm ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cum_exposures,
       sum(clicks) OVER (PARTITION BY arm ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cum_clicks,
       sum(orders) OVER (PARTITION BY arm ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cum_orders
FROM days
ORDER BY arm, day

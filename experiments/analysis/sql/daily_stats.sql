-- Per arm and day of the spec's time zone: newly triggered users (first exposure that day),
-- exposures, and the attributed clicks and orders of the exposures shown that day (each event
-- counts on the day of its anchoring exposure, {attributed}.anchor_ts), with running totals.
-- Exposures of analysis users are the window exposures minus the excluded users ({excluded}).
-- The local_* slots turn a naive UTC ts into local wall time: DuckDB
-- timezone($timezone, timezone('UTC', ts)); Spark from_utc_timestamp(ts, :timezone).
WITH
{window_exposures},
shown_days AS (
    SELECT arm, day, count(*) AS exposures
    FROM (
        SELECT x.arm, CAST({local_ts} AS DATE) AS day
        FROM window_exposures x
        WHERE NOT EXISTS (SELECT 1 FROM {excluded} ex WHERE ex.user_id = x.user_id)
    ) shown
    GROUP BY arm, day
),
firsts AS (
    SELECT arm, day, count(*) AS new_users
    FROM (SELECT u.arm, CAST({local_first} AS DATE) AS day FROM {per_user} u) f
    GROUP BY arm, day
),
event_days AS (
    SELECT arm, day,
           sum(CASE WHEN type = 'click' THEN 1 ELSE 0 END) AS clicks,
           sum(CASE WHEN type = 'order' THEN 1 ELSE 0 END) AS orders
    FROM (
        SELECT a.arm, a.type, CAST({local_anchor} AS DATE) AS day
        FROM {attributed} a
        WHERE a.type IN ('click', 'order')
    ) v
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

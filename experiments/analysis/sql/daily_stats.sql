-- Per arm and day of the spec's time zone: newly triggered users (first exposure that day),
-- exposures, and the attributed clicks and orders of the exposures shown that day (each event
-- counts on the day of its anchoring exposure, anchored_events.sql), with running totals.
-- The local_ts slot turns the naive UTC ts into local wall time: DuckDB
-- timezone($timezone, timezone('UTC', ts)); Spark from_utc_timestamp(ts, :timezone).
WITH
{window_exposures},
shown AS (
    SELECT x.user_id, x.item_id, x.ts, x.reason_id, u.arm,
           CAST({local_ts} AS DATE) AS day
    FROM window_exposures x
    JOIN {per_user} u ON u.user_id = x.user_id
),
{anchored_events},
firsts AS (
    SELECT arm, day, count(*) AS new_users
    FROM (
        SELECT user_id, min(arm) AS arm, min(day) AS day FROM shown GROUP BY user_id
    ) f
    GROUP BY arm, day
),
shown_days AS (
    SELECT arm, day, count(*) AS exposures FROM shown GROUP BY arm, day
),
event_days AS (
    SELECT arm, day,
           sum(CASE WHEN type = 'click' THEN 1 ELSE 0 END) AS clicks,
           sum(CASE WHEN type = 'order' THEN 1 ELSE 0 END) AS orders
    FROM event_anchors
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

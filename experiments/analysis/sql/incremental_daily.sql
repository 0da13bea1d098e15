-- The daily block (daily_stats.sql) from the incremental state: exposures per (arm, day) of
-- every seen user minus those of the users the analysis excludes (multi-arm, bots; read from the
-- raw exposures, few users), users per day of their first exposure, and the attributed clicks
-- and orders per day of their anchoring exposure, with running totals.
WITH
{window_exposures},
excluded AS (
    SELECT user_id FROM {seen} GROUP BY user_id
    EXCEPT
    SELECT user_id FROM {per_user}
),
excluded_days AS (
    SELECT x.arm, CAST({local_ts} AS DATE) AS day, count(*) AS exposures
    FROM window_exposures x
    SEMI JOIN excluded e ON e.user_id = x.user_id
    GROUP BY 1, 2
),
shown_days AS (
    SELECT d.arm, d.day, d.exposures - COALESCE(x.exposures, 0) AS exposures
    FROM (SELECT arm, day, sum(exposures) AS exposures FROM {days_state} GROUP BY arm, day) d
    LEFT JOIN excluded_days x ON x.arm = d.arm AND x.day = d.day
    WHERE d.exposures - COALESCE(x.exposures, 0) > 0
),
firsts AS (
    SELECT arm, CAST({local_first} AS DATE) AS day, count(*) AS new_users
    FROM {per_user}
    GROUP BY 1, 2
),
event_days AS (
    SELECT u.arm, CAST({local_anchor} AS DATE) AS day,
           sum(CASE WHEN e.type = 'click' THEN 1 ELSE 0 END) AS clicks,
           sum(CASE WHEN e.type = 'order' THEN 1 ELSE 0 END) AS orders
    FROM {events_state} e
    JOIN {per_user} u ON u.user_id = e.user_id
    WHERE e.type IN ('click', 'order')
      AND e.ts <= e.anchor_ts + CASE WHEN e.type = 'order' THEN $order_window ELSE $click_window END
    GROUP BY 1, 2
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

-- The daily block (daily_stats.sql) from the incremental state, without a scan of the exposures:
-- exposures per (arm, local day) of every seen user minus those of the excluded users (multi-arm,
-- bots: few users, their days from the per-(user, arm, day) state), users per local day of their
-- first exposure (stored with the covariates), and the attributed clicks and orders per local day
-- of their anchoring exposure (the attributed table, counted per UTC minute first as
-- daily_stats.sql does), with running totals.
WITH
excluded_days AS (
    SELECT d.arm, d.day, sum(d.n) AS exposures
    FROM {user_days_state} d
    SEMI JOIN {excluded} x ON x.user_id = d.user_id
    GROUP BY d.arm, d.day
),
shown_days AS (
    SELECT d.arm, d.day, d.exposures - COALESCE(x.exposures, 0) AS exposures
    FROM (SELECT arm, day, sum(exposures) AS exposures FROM {days_state} GROUP BY arm, day) d
    LEFT JOIN excluded_days x ON x.arm = d.arm AND x.day = d.day
    WHERE d.exposures - COALESCE(x.exposures, 0) > 0
),
firsts AS (
    SELECT arm, first_day AS day, count(*) AS new_users
    FROM {users}
    WHERE kept = 1
    GROUP BY 1, 2
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

-- The end of the daily block's query, shared by daily_stats.sql and incremental_daily.sql (its
-- daily_totals marker): the attributed clicks and orders per local day of their anchoring
-- exposure, counted per UTC minute first, joined to the caller's shown_days and firsts CTEs,
-- with running totals. Continues the caller's WITH list.
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

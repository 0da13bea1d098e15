-- Stage 2: one row per analysis user with the per-user columns of abkit/metrics.py
-- (docs/interface.md, Metrics). Reads stage 1 ({seen}) for membership and the raw logs for the
-- pre-period; the attributed events either come from stage 2a (a read of the table made by
-- materialized attributed_events.sql) or are attributed inline (the slot holds the attribution CTEs).
WITH
{window_exposures},
analysis_users AS (
    -- In the analysis: exactly one arm in the window; the bot filter (if any) drops users with
    -- more exposures than the spec allows, one threshold for all arms (analysis_users_staged.sql
    -- after stage 1b, analysis_users_grouped.sql otherwise).
{analysis_users}
),
user_events AS (
    -- Clicks, carts and orders of analysis users from the lookback before their first
    -- exposure to the end of the longest window after their last one.
    SELECT e.event_id, e.user_id, e.item_id, e.type, e.ts,
           COALESCE(e.revenue, 0) AS revenue, e.order_id, u.first_exposure
    FROM {events} e
    JOIN analysis_users u ON u.user_id = e.user_id
    WHERE e.type IN ('click', 'cart', 'order')
      AND e.ts >= u.first_exposure - $lookback
      AND e.ts <= u.last_exposure + $max_window{event_as_of_filter}
),
{attributed},
outcomes AS (
    SELECT user_id,
           sum(CASE WHEN type = 'click' THEN 1 ELSE 0 END) AS clicks,
           sum(CASE WHEN type = 'cart' THEN 1 ELSE 0 END) AS carts,
           sum(CASE WHEN type = 'order' THEN 1 ELSE 0 END) AS orders,
           sum(CASE WHEN type = 'order' THEN revenue ELSE 0 END) AS revenue
    FROM attributed
    GROUP BY user_id
),
order_refunds AS (
    -- Refunds of attributed orders, matched by order_id (a refund names the order it refunds).
    SELECT order_id, sum(revenue) AS refunded
    FROM (
        SELECT DISTINCT r.event_id, r.order_id, COALESCE(r.revenue, 0) AS revenue
        FROM {events} r
        WHERE r.type = 'refund'
          AND r.order_id IN (SELECT order_id FROM attributed WHERE type = 'order'){refund_as_of_filter}
    ) refunds
    GROUP BY order_id
),
user_refunds AS (
    -- An order's refunds are subtracted once, however many of its lines were attributed.
    SELECT o.user_id, sum(f.refunded) AS refunded
    FROM (SELECT DISTINCT user_id, order_id FROM attributed WHERE type = 'order') o
    JOIN order_refunds f ON f.order_id = o.order_id
    GROUP BY o.user_id
),
refunded_lines AS (
    SELECT a.user_id, count(*) AS refunded_orders
    FROM attributed a
    JOIN order_refunds f ON f.order_id = a.order_id
    WHERE a.type = 'order'
    GROUP BY a.user_id
),
pre_period AS (
    -- CUPED covariates: the user's events of any item in [first_exposure - lookback, first_exposure).
    SELECT user_id,
           sum(CASE WHEN type = 'click' THEN 1 ELSE 0 END) AS pre_clicks,
           sum(CASE WHEN type = 'cart' THEN 1 ELSE 0 END) AS pre_carts,
           sum(CASE WHEN type = 'order' THEN 1 ELSE 0 END) AS pre_orders,
           sum(CASE WHEN type = 'order' THEN revenue ELSE 0 END) AS pre_revenue
    FROM (
        SELECT DISTINCT event_id, user_id, type, revenue
        FROM user_events
        WHERE ts < first_exposure
    ) pre_events
    GROUP BY user_id
)
SELECT
    u.user_id,
    u.arm,
    CAST(u.exposures AS BIGINT) AS exposures,
    CAST(COALESCE(o.clicks, 0) AS BIGINT) AS clicks,
    CAST(COALESCE(o.carts, 0) AS BIGINT) AS carts,
    CAST(COALESCE(o.orders, 0) AS BIGINT) AS orders,
    CAST(COALESCE(o.revenue, 0) AS DOUBLE) AS revenue,
    CAST(COALESCE(o.revenue, 0) - COALESCE(r.refunded, 0) AS DOUBLE) AS net_revenue,
    CAST(COALESCE(l.refunded_orders, 0) AS BIGINT) AS refunded_orders,
    CASE WHEN COALESCE(o.orders, 0) > 0 THEN 1 ELSE 0 END AS converted,
    CAST(COALESCE(p.pre_clicks, 0) AS BIGINT) AS pre_clicks,
    CAST(COALESCE(p.pre_carts, 0) AS BIGINT) AS pre_carts,
    CAST(COALESCE(p.pre_orders, 0) AS BIGINT) AS pre_orders,
    CAST(COALESCE(p.pre_revenue, 0) AS DOUBLE) AS pre_revenue,
    CASE WHEN COALESCE(p.pre_orders, 0) > 0 THEN 1 ELSE 0 END AS pre_converted,
    u.first_exposure,
    u.last_exposure,
    {window_open} AS window_open{dimension_select}
FROM analysis_users u
LEFT JOIN outcomes o ON o.user_id = u.user_id
LEFT JOIN user_refunds r ON r.user_id = u.user_id
LEFT JOIN refunded_lines l ON l.user_id = u.user_id
LEFT JOIN pre_period p ON p.user_id = u.user_id{dimension_joins}

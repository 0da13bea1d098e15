-- Stage 2 (per_user.sql) from the incremental state instead of the raw logs: the same users,
-- columns and types. The analysis users are the seen users but the few excluded ones ({excluded}),
-- each their one (user, arm) row of {seen_state} with its CUPED covariates; {attributed} the
-- attributed events (incremental_attributed.sql), {refunds_state} the refunds of their orders.
WITH
analysis_users AS (
    SELECT * FROM {seen_state} s
    WHERE NOT EXISTS (SELECT 1 FROM {excluded} ex WHERE ex.user_id = s.user_id)
),
attributed AS (
    SELECT event_id, user_id, type, order_id, revenue FROM {attributed}
),
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
    SELECT order_id, sum(revenue) AS refunded
    FROM {refunds_state}
    WHERE order_id IN (SELECT order_id FROM attributed WHERE type = 'order')
    GROUP BY order_id
),
user_refunds AS (
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
    CAST(u.pre_clicks AS BIGINT) AS pre_clicks,
    CAST(u.pre_carts AS BIGINT) AS pre_carts,
    CAST(u.pre_orders AS BIGINT) AS pre_orders,
    CAST(u.pre_revenue AS DOUBLE) AS pre_revenue,
    CASE WHEN u.pre_orders > 0 THEN 1 ELSE 0 END AS pre_converted,
    u.first_exposure,
    u.last_exposure,
    0 AS window_open{dimension_select}
FROM analysis_users u
LEFT JOIN outcomes o ON o.user_id = u.user_id
LEFT JOIN user_refunds r ON r.user_id = u.user_id
LEFT JOIN refunded_lines l ON l.user_id = u.user_id{dimension_joins}

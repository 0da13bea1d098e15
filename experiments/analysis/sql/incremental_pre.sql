-- CUPED covariates (per_user.sql, pre_period) of the given users: their clicks, carts and
-- orders of any item in [first_exposure - lookback, first_exposure), each event id once.
SELECT u.user_id, u.first_exposure,
       CAST(sum(CASE WHEN e.type = 'click' THEN 1 ELSE 0 END) AS BIGINT) AS pre_clicks,
       CAST(sum(CASE WHEN e.type = 'cart' THEN 1 ELSE 0 END) AS BIGINT) AS pre_carts,
       CAST(sum(CASE WHEN e.type = 'order' THEN 1 ELSE 0 END) AS BIGINT) AS pre_orders,
       CAST(sum(CASE WHEN e.type = 'order' THEN e.revenue ELSE 0 END) AS DOUBLE) AS pre_revenue
FROM {users} u
JOIN (
    SELECT DISTINCT event_id, user_id, type, ts, COALESCE(revenue, 0) AS revenue
    FROM {events}
    WHERE type IN ('click', 'cart', 'order')
      AND ts >= $pre_from
      AND ts < $pre_to{ingested_filter}
) e ON e.user_id = u.user_id
WHERE e.ts >= u.first_exposure - $lookback
  AND e.ts < u.first_exposure
GROUP BY u.user_id, u.first_exposure

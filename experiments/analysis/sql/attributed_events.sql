-- Stage 2a: the attributed clicks, carts and orders of the analysis users, attributed ONCE and
-- materialized: per_user.sql sums them per user; the daily and text-feature blocks count them on
-- the exposure that anchors each one (anchor_ts, anchor_reason_id: the latest exposure of the same
-- (user, item) at or before the event, ties broken by reason_id; whenever some exposure qualifies
-- the latest one does too, so every attributed event has exactly one anchor).
WITH
{window_exposures},
analysis_users AS (
    SELECT s.user_id, s.arm, s.first_exposure, s.last_exposure
    FROM {seen} s
    WHERE NOT EXISTS (SELECT 1 FROM {excluded} ex WHERE ex.user_id = s.user_id)
),
attribution_candidates AS (
    SELECT e.event_id, e.user_id, e.item_id, e.type, e.ts, COALESCE(e.revenue, 0) AS revenue, e.order_id
    FROM {events} e
    JOIN analysis_users u ON u.user_id = e.user_id
    WHERE e.type IN ('click', 'cart', 'order')
      AND e.ts >= u.first_exposure
      AND e.ts <= u.last_exposure + $max_window{event_as_of_filter}
),
{attribution}
SELECT a.event_id, a.user_id, u.arm, a.item_id, a.type, a.order_id, a.revenue, a.anchor_ts, a.anchor_reason_id
FROM attributed a
JOIN analysis_users u ON u.user_id = a.user_id

-- Attributed clicks and orders of the analysis users, each tied to ONE exposure: the latest
-- exposure of the same (user, item) at or before the event (ties broken by reason_id). The set
-- of events is per_user.sql's (the same attribution_<mode>.sql over the same candidates); whenever
-- some exposure qualifies the latest one does too, so every attributed event gets exactly one
-- anchor and per-anchor sums add up to the per-user clicks and orders. Needs a CTE `shown`
-- (user_id, item_id, ts, reason_id, ...): every window exposure of an analysis user.
attribution_candidates AS (
    SELECT e.event_id, e.user_id, e.item_id, e.type, e.ts, COALESCE(e.revenue, 0) AS revenue, e.order_id
    FROM {events} e
    JOIN {per_user} u ON u.user_id = e.user_id
    WHERE e.type IN ('click', 'order')
      AND e.ts >= u.first_exposure
      AND e.ts <= u.last_exposure + $max_window{event_as_of_filter}
),
{attribution},
attributed_items AS (
    SELECT DISTINCT event_id, item_id, ts FROM attribution_candidates
),
event_anchor_ranked AS (
    SELECT a.event_id, a.type, s.*,
           row_number() OVER (PARTITION BY a.event_id
                              ORDER BY s.ts DESC, COALESCE(s.reason_id, '') DESC) AS anchor_rank
    FROM attributed a
    JOIN attributed_items c ON c.event_id = a.event_id
    JOIN shown s
      ON s.user_id = a.user_id
     AND s.item_id = c.item_id
     AND s.ts <= c.ts
     AND c.ts <= s.ts + $max_window
),
event_anchors AS (
    SELECT * FROM event_anchor_ranked WHERE anchor_rank = 1
)

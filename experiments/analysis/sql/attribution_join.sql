-- Attribution as an equi-join on (user, item) with a range condition: an event counts when
-- some exposure of the same (user, item) happened at t with t <= event.ts <= t + window.
-- Each event is counted once however many exposures qualify (duplicated event rows collapse, the
-- largest revenue kept); its anchor is the latest qualifying exposure (ties: the larger reason_id).
-- The hash table is built on the small side (the events); the exposures only probe it, so the
-- fan-out is limited to (user, item) pairs that have events.
attribution_pairs AS (
    SELECT e.event_id, e.user_id, e.item_id, e.type, e.order_id, e.revenue,
           x.ts AS anchor_ts, x.reason_id AS anchor_reason_id
    FROM attribution_candidates e
    JOIN window_exposures x
      ON x.user_id = e.user_id
     AND x.item_id = e.item_id
     AND x.ts <= e.ts
    WHERE e.ts <= x.ts + CASE WHEN e.type = 'order' THEN $order_window ELSE $click_window END
),
anchor_ranked AS (
    SELECT p.*,
           max(revenue) OVER (PARTITION BY event_id, user_id, type, order_id) AS event_revenue,
           row_number() OVER (PARTITION BY event_id, user_id, type, order_id
                              ORDER BY anchor_ts DESC, COALESCE(anchor_reason_id, '') DESC) AS anchor_rank
    FROM attribution_pairs p
),
attributed AS (
    SELECT event_id, user_id, type, order_id, event_revenue AS revenue, item_id, anchor_ts, anchor_reason_id
    FROM anchor_ranked
    WHERE anchor_rank = 1
)

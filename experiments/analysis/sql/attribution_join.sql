-- Attribution as an equi-join on (user, item) with a range condition: an event counts when
-- some exposure of the same (user, item) happened at t with t <= event.ts <= t + window.
-- Grouping by the event counts it once however many exposures qualify (and collapses
-- duplicated event rows). The hash table is built on the small side (the events); the
-- exposures only probe it, so the fan-out is limited to (user, item) pairs that have events.
attributed AS (
    SELECT e.event_id, e.user_id, e.type, e.order_id, max(e.revenue) AS revenue
    FROM attribution_candidates e
    JOIN window_exposures x
      ON x.user_id = e.user_id
     AND x.item_id = e.item_id
     AND x.ts <= e.ts
    WHERE e.ts <= x.ts + CASE WHEN e.type = 'order' THEN $order_window ELSE $click_window END
    GROUP BY e.event_id, e.user_id, e.type, e.order_id
)

-- Stage 2a (attributed_events.sql) from the incremental state: the stored events of the analysis
-- users whose anchor is within their type's window, with the user's arm, each event once.
SELECT e.event_id, e.user_id, u.arm, e.item_id, e.type, e.order_id, e.revenue, e.anchor_ts, e.anchor_reason_id
FROM {events_state} e
JOIN {users} u ON u.user_id = e.user_id
WHERE u.kept = 1
  AND e.ts <= e.anchor_ts + CASE WHEN e.type = 'order' THEN $order_window ELSE $click_window END

-- Stage 2a (attributed_events.sql) from the incremental state: the stored events of the analysis
-- users whose anchor is within their type's window, each event once. The arm is the anchoring
-- exposure's: an analysis user has one arm, and every other user is in the small {excluded} table.
SELECT e.event_id, e.user_id, e.arm, e.item_id, e.type, e.order_id, e.revenue, e.anchor_ts, e.anchor_reason_id
FROM {events_state} e
WHERE e.ts <= e.anchor_ts + CASE WHEN e.type = 'order' THEN $order_window ELSE $click_window END
  AND NOT EXISTS (SELECT 1 FROM {excluded} ex WHERE ex.user_id = e.user_id)

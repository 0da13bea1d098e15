-- Refund rows of the orders in the event state, by event_id (each stored once): refunds
-- ingested after the watermark of any stored order, and earlier refunds of orders that entered
-- the state in this refresh (a late order, or one a late exposure now anchors).
SELECT DISTINCT r.event_id, r.order_id, COALESCE(r.revenue, 0) AS revenue
FROM {events} r
WHERE r.type = 'refund'
  AND r.order_id IN (SELECT order_id FROM {events_state} WHERE type = 'order')
  AND ({new_refund} OR r.order_id IN (SELECT order_id FROM {new_orders}))
  AND r.event_id NOT IN (SELECT event_id FROM {refunds_state})

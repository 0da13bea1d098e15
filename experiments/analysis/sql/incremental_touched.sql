-- Older events (ingested by the watermark) of the same (user, item) as a new exposure, within the
-- longest window after it: a late exposure may now anchor them (incremental_candidates.sql).
SELECT DISTINCT e.event_id, e.user_id, e.item_id, e.type, e.ts, COALESCE(e.revenue, 0) AS revenue, e.order_id
FROM {events} e
JOIN {new_exposures} x
  ON x.user_id = e.user_id
 AND x.item_id = e.item_id
 AND x.ts <= e.ts
WHERE e.ingested_at <= $watermark
  AND e.type IN ('click', 'cart', 'order')
  AND e.ts >= $touched_from
  AND e.ts <= x.ts + $max_window

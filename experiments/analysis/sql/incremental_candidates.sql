-- Events whose anchor may be new: clicks, carts and orders ingested after the watermark, plus
-- (on a refresh) older events of the same (user, item) as a new exposure that falls within the
-- longest window after it -- a late exposure can anchor an event that arrived earlier.
SELECT event_id, user_id, item_id, type, ts, COALESCE(revenue, 0) AS revenue, order_id
FROM {events}
WHERE type IN ('click', 'cart', 'order')
  AND ts >= $window_start{ingested_filter}{touched_events}

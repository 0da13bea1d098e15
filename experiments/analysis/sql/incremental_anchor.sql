-- Each candidate event's anchor: the latest exposure of the same (user, item) in this
-- experiment's window at or before it, looked for only within the longest attribution window
-- (an event further from every exposure is never attributed), and the anchor's local day (the
-- daily block). An event is attributed when its anchor is within its type's window
-- (attribution_window.sql: whenever some exposure qualifies the latest one does), so the anchor
-- is all the state keeps per event.
SELECT *, CAST({local_anchor} AS DATE) AS anchor_day
FROM (
    SELECT c.event_id, c.user_id, c.item_id, c.type, c.ts, c.revenue, c.order_id, max(x.ts) AS anchor_ts
    FROM {candidates} c
    JOIN {exposures} x
      ON x.user_id = c.user_id
     AND x.item_id = c.item_id
     AND x.ts <= c.ts
    WHERE x.experiment = $experiment
      AND x.ts >= $window_start
      AND x.ts < $window_end
      AND x.ts >= $anchor_from
      AND c.ts <= x.ts + $max_window
    GROUP BY c.event_id, c.user_id, c.item_id, c.type, c.ts, c.revenue, c.order_id
) anchored

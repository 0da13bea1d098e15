-- Each candidate event's anchor: the latest exposure of the same (user, item) in this
-- experiment's window at or before it, looked for only within the longest attribution window
-- (an event further from every exposure is never attributed), and that exposure's reason (ties at
-- the same instant: the larger reason_id, as attribution_join.sql breaks them). An event is
-- attributed when its anchor is within its type's window (whenever some exposure qualifies the
-- latest one does), so the anchor is all the state keeps per event (and an arm: the analysis
-- users' one arm, which incremental_attributed.sql reads instead of joining the users). The reason slot: the reason_id of
-- the largest (ts, reason_id), the state's engine's own form (incremental.py).
SELECT c.event_id, c.user_id, c.item_id, c.type, c.ts, c.revenue, c.order_id,
       max(x.ts) AS anchor_ts,
       {anchor_reason} AS anchor_reason_id,
       min(x.arm) AS arm  -- the user's arm where they have one (else they are excluded)
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

-- Attribution with a window function: exposures and events of the same (user, item) are put
-- on one timeline sorted by ts (an exposure sorts before an event at the same instant) and the
-- latest exposure at or before each event is carried forward with max() over the window. An
-- event counts when that exposure (its anchor) is within its window. Linear after the sort, no
-- fan-out; the anchor's reason_id (ties: the larger one) is looked up by an equi-join on its ts.
anchor_pairs AS (
    SELECT DISTINCT user_id, item_id FROM attribution_candidates
),
timeline AS (
    SELECT x.user_id, x.item_id, x.ts, 0 AS is_event,
           CAST(NULL AS STRING) AS event_id, CAST(NULL AS STRING) AS type,
           CAST(NULL AS STRING) AS order_id, CAST(NULL AS DOUBLE) AS revenue
    FROM window_exposures x
    JOIN anchor_pairs p ON p.user_id = x.user_id AND p.item_id = x.item_id
    UNION ALL
    SELECT user_id, item_id, ts, 1 AS is_event, event_id, type, order_id, revenue
    FROM attribution_candidates
),
anchored AS (
    SELECT t.*,
           max(CASE WHEN is_event = 0 THEN ts END) OVER (
               PARTITION BY user_id, item_id ORDER BY ts, is_event
               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS anchor_ts
    FROM timeline t
),
attributed_events AS (
    SELECT DISTINCT event_id, user_id, type, order_id, revenue, item_id, anchor_ts
    FROM anchored
    WHERE is_event = 1
      AND anchor_ts IS NOT NULL
      AND ts <= anchor_ts + CASE WHEN type = 'order' THEN $order_window ELSE $click_window END
),
attributed AS (
    SELECT a.event_id, a.user_id, a.type, a.order_id, a.revenue, a.item_id, a.anchor_ts,
           max(x.reason_id) AS anchor_reason_id
    FROM attributed_events a
    JOIN window_exposures x ON x.user_id = a.user_id AND x.item_id = a.item_id AND x.ts = a.anchor_ts
    GROUP BY a.event_id, a.user_id, a.type, a.order_id, a.revenue, a.item_id, a.anchor_ts
)

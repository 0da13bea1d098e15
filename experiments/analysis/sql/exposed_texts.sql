-- The distinct (item, text) pairs each arm's analysis users saw, with exposure counts; only
-- these small rows go to Python for the text metrics.
WITH
{window_exposures}
SELECT x.arm, x.item_id, r.text, r.segment, count(*) AS exposures
FROM window_exposures x
JOIN {per_user} u ON u.user_id = x.user_id
JOIN (
    SELECT reason_id, min(text) AS text, min(segment) AS segment
    FROM {reasons}
    GROUP BY reason_id
) r ON r.reason_id = x.reason_id
GROUP BY x.arm, x.item_id, r.text, r.segment
ORDER BY x.arm, x.item_id, r.text, r.segment  -- a fixed order: the text metrics' examples are the first rows

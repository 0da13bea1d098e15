-- The distinct (item, text) pairs each arm's analysis users saw, with exposure counts; only
-- these small rows go to Python for the text metrics.
SELECT t.arm, t.item_id, r.text, r.segment, CAST(sum(t.exposures) AS BIGINT) AS exposures
FROM {user_texts} t
JOIN (
    SELECT reason_id, min(text) AS text, min(segment) AS segment
    FROM {reasons}
    GROUP BY reason_id
) r ON r.reason_id = t.reason_id
GROUP BY t.arm, t.item_id, r.text, r.segment
ORDER BY t.arm, t.item_id, r.text, r.segment  -- a fixed order: the text metrics' examples are the first rows

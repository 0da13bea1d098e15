-- Stage 2b: the analysis users' exposures that show a reason, counted per (user, reason, item), with
-- the viewer's segment (users.segment). The text blocks (text metrics, text features, samples) read
-- this table instead of scanning the exposures again, and take the segment from it instead of each
-- grouping the users table once more.
WITH
{window_exposures},
text_counts AS (
    SELECT x.user_id, x.arm, x.reason_id, x.item_id, count(*) AS exposures
    FROM window_exposures x
    WHERE x.reason_id IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM {excluded} ex WHERE ex.user_id = x.user_id)
    GROUP BY x.user_id, x.arm, x.reason_id, x.item_id
)
SELECT t.user_id, t.arm, t.reason_id, t.item_id, t.exposures, g.segment
FROM text_counts t
LEFT JOIN (
    SELECT user_id, min(segment) AS segment FROM {users} GROUP BY user_id
) g ON g.user_id = t.user_id

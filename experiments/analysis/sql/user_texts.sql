-- Stage 2b: the analysis users' exposures that show a reason, counted per (user, reason, item), with
-- the viewer's segment (users.segment). The text blocks (text metrics, text features, samples) read
-- this table instead of scanning the exposures again, and take the segment from it instead of each
-- grouping the users table once more (only its rows of the users who saw a text).
-- The excluded users are left out by an outer join that keeps the unmatched rows (for NOT EXISTS,
-- DuckDB materialized the window to decorrelate it: no dearer in CPU, but a serial phase).
WITH
{window_exposures},
text_counts AS (
    SELECT x.user_id, x.arm, x.reason_id, x.item_id, count(*) AS exposures
    FROM window_exposures x
    LEFT JOIN {excluded} ex ON ex.user_id = x.user_id
    WHERE x.reason_id IS NOT NULL
      AND ex.user_id IS NULL
    GROUP BY x.user_id, x.arm, x.reason_id, x.item_id
)
SELECT t.user_id, t.arm, t.reason_id, t.item_id, t.exposures, g.segment
FROM text_counts t
LEFT JOIN (
    -- the segment of the users who saw a text only (often a small part of the users table)
    SELECT user_id, min(segment) AS segment
    FROM {users}
    WHERE user_id IN (SELECT user_id FROM text_counts)
    GROUP BY user_id
) g ON g.user_id = t.user_id

-- Stage 2b: the analysis users' exposures that show a reason, counted per (user, reason, item).
-- The text blocks (text metrics, text features, samples) read this table instead of scanning the
-- exposures again (they add the viewer's segment from the users table themselves).
WITH
{window_exposures}
SELECT x.user_id, x.arm, x.reason_id, x.item_id, count(*) AS exposures
FROM window_exposures x
WHERE x.reason_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM {excluded} ex WHERE ex.user_id = x.user_id)
GROUP BY x.user_id, x.arm, x.reason_id, x.item_id

-- The new exposures that show a reason, counted per (user, arm, reason, item): what user_texts.sql
-- counts, for every seen user (the analysis users are picked when the state is read). They are
-- added to the stored counts in place (incremental.py: an update of the keys stored, an insert
-- of the others), not merged into a rewrite of every row.
SELECT user_id, arm, reason_id, item_id, count(*) AS exposures
FROM {new_exposures}
WHERE reason_id IS NOT NULL
GROUP BY user_id, arm, reason_id, item_id

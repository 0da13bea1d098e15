-- The new exposures that show a reason, counted per (user, arm, reason, item): what user_texts.sql
-- counts, for every seen user (the analysis users are picked when the state is read). They are
-- added to the stored counts in place (incremental.py: an update of the keys stored, an insert
-- of the others), not merged into a rewrite of every row.
SELECT n.*, s.segment  -- the viewer's segment (user_texts.sql's), stored with the user's (user, arm) row
FROM (
    SELECT user_id, arm, reason_id, item_id, count(*) AS exposures
    FROM {new_exposures}
    WHERE reason_id IS NOT NULL
    GROUP BY user_id, arm, reason_id, item_id
) n
JOIN {seen_state} s ON s.user_id = n.user_id AND s.arm = n.arm

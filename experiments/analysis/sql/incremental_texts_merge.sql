-- Merge the new exposures that show a reason into the per-(user, arm, reason, item) counts: what
-- user_texts.sql counts, for every seen user (the analysis users are picked when it is read).
SELECT user_id, arm, reason_id, item_id, CAST(sum(exposures) AS BIGINT) AS exposures
FROM (
    SELECT user_id, arm, reason_id, item_id, exposures FROM {texts_state}
    UNION ALL
    SELECT user_id, arm, reason_id, item_id, count(*)
    FROM {new_exposures}
    WHERE reason_id IS NOT NULL
    GROUP BY user_id, arm, reason_id, item_id
) parts
GROUP BY user_id, arm, reason_id, item_id

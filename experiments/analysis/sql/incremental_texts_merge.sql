-- Merge the new exposures that show a reason into the per-(user, arm, reason, item) counts: what
-- user_texts.sql counts, for every seen user (the analysis users are picked when it is read). An
-- outer join of the stored counts with the new ones (no key column is NULL), not a grouping of both.
WITH
fresh AS (
    SELECT user_id, arm, reason_id, item_id, count(*) AS exposures
    FROM {new_exposures}
    WHERE reason_id IS NOT NULL
    GROUP BY user_id, arm, reason_id, item_id
)
SELECT COALESCE(s.user_id, n.user_id) AS user_id, COALESCE(s.arm, n.arm) AS arm,
       COALESCE(s.reason_id, n.reason_id) AS reason_id, COALESCE(s.item_id, n.item_id) AS item_id,
       CAST(COALESCE(s.exposures, 0) + COALESCE(n.exposures, 0) AS BIGINT) AS exposures
FROM {texts_state} s
FULL OUTER JOIN fresh n
  ON n.user_id = s.user_id AND n.arm = s.arm AND n.reason_id = s.reason_id AND n.item_id = s.item_id

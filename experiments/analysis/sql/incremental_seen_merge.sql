-- Merge the new exposures into the per-(user, arm) state, stage 1's columns (seen_users.sql).
-- Counts add, first/last are least/greatest (NULLs skipped); a dimension is the value at the
-- earliest exposure that has one (min_by skips NULLs), so each side carries the ts of its value
-- (dim_<i>_ts). An outer join of the stored rows with the new rows' groups, not a grouping of
-- both: the state is hashed once less (user_id, arm and the new groups are never NULL).
WITH
fresh AS (
    SELECT user_id, arm, count(*) AS exposures, min(ts) AS first_exposure, max(ts) AS last_exposure{dimension_new}
    FROM {new_exposures}
    GROUP BY user_id, arm
)
SELECT COALESCE(s.user_id, n.user_id) AS user_id,
       COALESCE(s.arm, n.arm) AS arm,
       CAST(COALESCE(s.exposures, 0) + COALESCE(n.exposures, 0) AS BIGINT) AS exposures,
       least(s.first_exposure, n.first_exposure) AS first_exposure,
       greatest(s.last_exposure, n.last_exposure) AS last_exposure{dimension_merge},
       s.user_id IS NULL AS is_new  -- a (user, arm) first seen now (the multi-arm check reads it)
FROM {seen_state} s
FULL OUTER JOIN fresh n ON n.user_id = s.user_id AND n.arm = s.arm

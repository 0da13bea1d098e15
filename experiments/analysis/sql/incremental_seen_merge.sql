-- Merge the new exposures into the per-(user, arm) state, stage 1's columns (seen_users.sql).
-- Counts add, first/last are min/max; a dimension is the value at the earliest exposure that
-- has one (min_by skips NULLs), so each part carries the ts of its value (dim_<i>_ts).
SELECT user_id, arm,
       CAST(sum(exposures) AS BIGINT) AS exposures,
       min(first_exposure) AS first_exposure,
       max(last_exposure) AS last_exposure{dimension_merge}
FROM (
    SELECT user_id, arm, exposures, first_exposure, last_exposure{dimension_columns}
    FROM {seen_state}
    UNION ALL
    SELECT user_id, arm, count(*), min(ts), max(ts){dimension_new}
    FROM {new_exposures}
    GROUP BY user_id, arm
) parts
GROUP BY user_id, arm

-- The new exposures per (user, arm), stage 1's columns (seen_users.sql), merged into the stored
-- rows in place (incremental.py, State.upsert): counts add, first/last are least/greatest (NULLs
-- skipped); a dimension is the value at the earliest exposure that has one (min_by skips NULLs), so
-- each side carries the ts of its value (dim_<i>_ts).
SELECT user_id, arm, count(*) AS exposures, min(ts) AS first_exposure, max(ts) AS last_exposure{dimension_new}
FROM {new_exposures}
GROUP BY user_id, arm

-- Stage 1: one row per (user, arm) seen in the window. Users with more than one row were
-- exposed to several arms; per-arm counts before exclusion and exposures with arms the spec
-- does not know come from this table. Dimension values are the user's value at the first
-- in-window exposure (min_by is available in DuckDB and Spark SQL).
WITH
{window_exposures}
SELECT
    user_id,
    arm,
    count(*) AS exposures,
    min(ts) AS first_exposure,
    max(ts) AS last_exposure{dimension_first_values}
FROM window_exposures
GROUP BY user_id, arm

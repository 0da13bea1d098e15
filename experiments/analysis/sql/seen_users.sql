-- Stage 1: one row per (user, arm) seen in the window. Users with more than one row were
-- exposed to several arms; per-arm counts before exclusion and exposures with arms the spec
-- does not know come from this table. Dimension values are the user's value at the first
-- in-window exposure that has one (DuckDB's min_by skips NULL values; Spark SQL has min_by too). They
-- are taken from the exposures that carry an extra map only, in a pass of their own: most
-- exposures carry none, and a per-row string state in the big grouping costs several times
-- the counts themselves.
WITH
{window_exposures}{dimension_first_values}
SELECT s.user_id, s.arm, s.exposures, s.first_exposure, s.last_exposure{dimension_select}
FROM (
    SELECT user_id, arm, count(*) AS exposures, min(ts) AS first_exposure, max(ts) AS last_exposure
    FROM window_exposures
    GROUP BY user_id, arm
) s{dimension_join}

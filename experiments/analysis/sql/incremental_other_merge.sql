-- Users' arms in the other experiments in this window (interaction_stats.sql needs, per user and
-- other experiment, whether one arm was seen and which): min and max arm merge, as does the
-- first exposure (a ts inside the window); an outer join of the stored rows with the new groups.
WITH
fresh AS (
    SELECT user_id, experiment, min(arm) AS min_arm, max(arm) AS max_arm, min(ts) AS first_ts
    FROM {exposures}
    WHERE experiment <> $experiment
      AND ts >= $window_start
      AND ts < $window_end{ingested_filter}
    GROUP BY user_id, experiment
)
SELECT COALESCE(s.user_id, n.user_id) AS user_id, COALESCE(s.experiment, n.experiment) AS experiment,
       least(s.min_arm, n.min_arm) AS min_arm, greatest(s.max_arm, n.max_arm) AS max_arm,
       least(s.first_ts, n.first_ts) AS first_ts
FROM {others_state} s
FULL OUTER JOIN fresh n ON n.user_id = s.user_id AND n.experiment = s.experiment

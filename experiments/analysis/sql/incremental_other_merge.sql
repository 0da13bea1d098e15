-- Users' arms in the other experiments in this window (interaction_stats.sql needs, per user and
-- other experiment, whether one arm was seen and which): min and max arm merge, as does the
-- first exposure (a ts inside the window).
SELECT user_id, experiment, min(min_arm) AS min_arm, max(max_arm) AS max_arm, min(first_ts) AS first_ts
FROM (
    SELECT user_id, experiment, min_arm, max_arm, first_ts FROM {others_state}
    UNION ALL
    SELECT user_id, experiment, min(arm), max(arm), min(ts)
    FROM {exposures}
    WHERE experiment <> $experiment
      AND ts >= $window_start
      AND ts < $window_end{ingested_filter}
    GROUP BY user_id, experiment
) parts
GROUP BY user_id, experiment

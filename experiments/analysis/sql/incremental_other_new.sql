-- Users' arms in the other experiments in this window (interaction_stats.sql needs, per user and
-- other experiment, whether one arm was seen and which), from the new rows: min and max arm and
-- the first exposure (a ts inside the window), merged into the stored rows in place (incremental.py).
SELECT user_id, experiment, min(arm) AS min_arm, max(arm) AS max_arm, min(ts) AS first_ts
FROM {exposures}
WHERE experiment <> $experiment
  AND ts >= $window_start
  AND ts < $window_end{ingested_filter}
GROUP BY user_id, experiment

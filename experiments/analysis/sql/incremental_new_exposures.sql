-- Incremental refresh (experiments/analysis/incremental.py): this experiment's window exposures
-- ingested after the state's watermark (every one on a first build), with their day of the
-- spec's time zone and the dimension values the full path reads (seen_users.sql).
SELECT user_id, item_id, arm, ts, CAST({local_ts} AS DATE) AS day{dimension_values}
FROM {exposures}
WHERE experiment = $experiment
  AND ts >= $window_start
  AND ts < $window_end{ingested_filter}

-- Incremental refresh (experiments/analysis/incremental.py): this experiment's window exposures
-- ingested after the state's watermark (every one on a first build), with their day of the
-- spec's time zone and the dimension values the full path reads (seen_users.sql). The local day
-- is computed once per UTC minute (a local day starts on a whole UTC minute in every zone since
-- 1972), not per row.
WITH
fresh AS (
    SELECT user_id, item_id, arm, ts, reason_id{dimension_values}
    FROM {exposures}
    WHERE experiment = $experiment
      AND ts >= $window_start
      AND ts < $window_end{ingested_filter}
),
minute_days AS (
    SELECT minute, CAST({local_minute} AS DATE) AS day
    FROM (SELECT DISTINCT date_trunc('minute', ts) AS minute FROM fresh) m
)
SELECT f.*, d.day
FROM fresh f
JOIN minute_days d ON d.minute = date_trunc('minute', f.ts)

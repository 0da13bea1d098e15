-- Per arm and day of the spec's time zone: newly triggered users (first exposure that day),
-- exposures, and the attributed clicks and orders of the exposures shown that day (each event
-- counts on the day of its anchoring exposure, {attributed}.anchor_ts), with running totals.
-- Exposures of analysis users are the window exposures minus the excluded users ({excluded}, unique
-- users: the outer join keeps each other exposure once).
-- The local_* slots turn a naive UTC ts into local wall time: DuckDB
-- timezone($timezone, timezone('UTC', ts)); Spark from_utc_timestamp(ts, :timezone). That
-- conversion is costly per row, so rows are counted per UTC minute first and each minute is
-- converted once (a local day starts on a whole UTC minute in every zone since 1972).
WITH
{window_exposures},
shown_minutes AS (
    SELECT x.arm, date_trunc('minute', x.ts) AS minute, count(*) AS exposures
    FROM window_exposures x
    LEFT JOIN {excluded} ex ON ex.user_id = x.user_id
    WHERE ex.user_id IS NULL  -- an outer join rather than NOT EXISTS, as in user_texts.sql
    GROUP BY x.arm, date_trunc('minute', x.ts)
),
shown_days AS (
    SELECT arm, day, sum(exposures) AS exposures
    FROM (SELECT s.arm, CAST({local_minute} AS DATE) AS day, s.exposures FROM shown_minutes s) d
    GROUP BY arm, day
),
first_minutes AS (
    SELECT u.arm, date_trunc('minute', u.first_exposure) AS minute, count(*) AS new_users
    FROM {per_user} u
    GROUP BY u.arm, date_trunc('minute', u.first_exposure)
),
firsts AS (
    SELECT arm, day, sum(new_users) AS new_users
    FROM (SELECT f.arm, CAST({local_first} AS DATE) AS day, f.new_users FROM first_minutes f) d
    GROUP BY arm, day
),
{daily_totals}

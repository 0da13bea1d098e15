-- The daily block (daily_stats.sql) from the incremental state, without a scan of the exposures:
-- exposures per (arm, local day) of every seen user minus those of the excluded users (multi-arm,
-- bots: few users, their days from the per-(user, arm, day) state), users per local day of their
-- first exposure (daily_stats.sql's, from the per-user table), and the attributed clicks and orders per local day
-- of their anchoring exposure (the attributed table, counted per UTC minute first as
-- daily_stats.sql does), with running totals.
WITH
excluded_days AS (
    SELECT d.arm, d.day, sum(d.n) AS exposures
    FROM {user_days_state} d
    SEMI JOIN {excluded} x ON x.user_id = d.user_id
    GROUP BY d.arm, d.day
),
shown_days AS (
    SELECT d.arm, d.day, d.exposures - COALESCE(x.exposures, 0) AS exposures
    FROM (SELECT arm, day, sum(exposures) AS exposures FROM {days_state} GROUP BY arm, day) d
    LEFT JOIN excluded_days x ON x.arm = d.arm AND x.day = d.day
    WHERE d.exposures - COALESCE(x.exposures, 0) > 0
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

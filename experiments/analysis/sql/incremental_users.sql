-- One row per seen user from the per-(user, arm) state: what per_user.sql's analysis_users
-- computes (arm, exposures, first/last exposure, dimensions) and whether the analysis keeps the
-- user (exactly one arm; the bot filter). The per-user table and the daily block's exclusions
-- both read it, so the state is grouped once.
SELECT user_id,
       min(arm) AS arm,
       sum(exposures) AS exposures,
       min(first_exposure) AS first_exposure,
       max(last_exposure) AS last_exposure,
       CASE WHEN count(*) = 1{bot_filter} THEN 1 ELSE 0 END AS kept{dimension_pick}
FROM {seen}
GROUP BY user_id

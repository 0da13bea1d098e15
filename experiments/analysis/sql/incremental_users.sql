-- One row per seen user from the state: what per_user.sql's analysis_users computes (arm,
-- exposures, first/last exposure, dimensions), whether the analysis keeps the user (exactly one
-- arm; the bot filter; excluded_users.sql's n_arms), and the CUPED covariates with the local day of
-- the first exposure. The excluded users, the attributed events, the per-user table and the daily
-- block all read it, so the state is grouped and joined once.
SELECT s.*, p.first_day,
       COALESCE(p.pre_clicks, 0) AS pre_clicks, COALESCE(p.pre_carts, 0) AS pre_carts,
       COALESCE(p.pre_orders, 0) AS pre_orders, COALESCE(p.pre_revenue, 0) AS pre_revenue
FROM (
    SELECT user_id,
           min(arm) AS arm,
           count(*) AS n_arms,
           sum(exposures) AS exposures,
           min(first_exposure) AS first_exposure,
           max(last_exposure) AS last_exposure,
           CASE WHEN count(*) = 1{bot_filter} THEN 1 ELSE 0 END AS kept{dimension_pick}
    FROM {seen}
    GROUP BY user_id
) s
LEFT JOIN {pre_state} p ON p.user_id = s.user_id

-- One row per seen user from the state: what per_user.sql's analysis_users computes (arm,
-- exposures, first/last exposure, dimensions), whether the analysis keeps the user (exactly one
-- arm; the bot filter; excluded_users.sql's n_arms), and the CUPED covariates with the local day of
-- the first exposure. The excluded users, the attributed events, the per-user table and the daily
-- block all read it, so the state is grouped and joined once. A user in one arm is their one
-- (user, arm) row as it is; only the few users of the stored multi-arm set ({multi_state}) are grouped.
SELECT s.*, p.first_day,
       COALESCE(p.pre_clicks, 0) AS pre_clicks, COALESCE(p.pre_carts, 0) AS pre_carts,
       COALESCE(p.pre_orders, 0) AS pre_orders, COALESCE(p.pre_revenue, 0) AS pre_revenue
FROM (
    SELECT user_id, arm, CAST(1 AS BIGINT) AS n_arms, CAST(exposures AS HUGEINT) AS exposures,
           first_exposure, last_exposure,
           CASE WHEN TRUE{bot_filter} THEN 1 ELSE 0 END AS kept{dimension_columns}
    FROM {seen}
    ANTI JOIN {multi_state} m USING (user_id)
    UNION ALL
    SELECT user_id, min(arm), count(*), sum(exposures), min(first_exposure), max(last_exposure),
           0{dimension_pick}
    FROM {seen}
    SEMI JOIN {multi_state} m USING (user_id)
    GROUP BY user_id
) s
LEFT JOIN {pre_state} p ON p.user_id = s.user_id

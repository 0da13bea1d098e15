-- Stage 1b (excluded_users.sql) from the incremental state: the seen users left out, with their arm
-- count and exposures. A user in one arm is their one (user, arm) row as it is (left out only by the
-- bot filter: the rows after the grouping); only the users of the stored multi-arm set are grouped.
SELECT user_id, count(*) AS n_arms, sum(exposures) AS total_exposures
FROM {seen}
SEMI JOIN {multi_state} m USING (user_id)
GROUP BY user_id{bots}

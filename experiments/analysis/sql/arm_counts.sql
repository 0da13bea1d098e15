-- SRM bookkeeping, per arm before any exclusion: users seen in the arm (a multi-arm user
-- counts in each of their arms), their exposures, how many of them were seen in more than one
-- arm, and how many single-arm users the bot filter drops. Arms the spec does not know show up
-- here too and are reported.
WITH
per_user_arms AS (
    SELECT user_id, count(*) AS n_arms, sum(exposures) AS total_exposures
    FROM {seen}
    GROUP BY user_id
)
SELECT
    s.arm,
    count(*) AS users,
    sum(s.exposures) AS exposures,
    sum(CASE WHEN c.n_arms > 1 THEN 1 ELSE 0 END) AS multi_arm_users,
    sum(CASE WHEN c.n_arms = 1 AND c.total_exposures > $max_exposures THEN 1 ELSE 0 END) AS bot_users
FROM {seen} s
JOIN per_user_arms c ON c.user_id = s.user_id
GROUP BY s.arm

-- SRM bookkeeping, per arm before any exclusion: users seen in the arm (a multi-arm user
-- counts in each of their arms), their exposures, how many of them were seen in more than one
-- arm, and how many single-arm users the bot filter drops (both kinds are in the excluded-users
-- table, a small one). Arms the spec does not know show up here too and are reported.
SELECT
    s.arm,
    count(*) AS users,
    sum(s.exposures) AS exposures,
    sum(CASE WHEN x.n_arms > 1 THEN 1 ELSE 0 END) AS multi_arm_users,
    sum(CASE WHEN x.n_arms = 1 THEN 1 ELSE 0 END) AS bot_users
FROM {seen} s
LEFT JOIN {excluded} x ON x.user_id = s.user_id
GROUP BY s.arm

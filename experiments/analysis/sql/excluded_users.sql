-- Stage 1b: the seen users left out of the analysis: exposed to more than one arm, or (bot filter)
-- more exposures than the spec allows, with their arm count and exposures (the SRM bookkeeping of
-- arm_counts.sql reads them). Every other seen user is an analysis user with exactly one row in
-- the seen table, so "window exposures of analysis users" is an anti-join with this small table.
SELECT user_id, count(*) AS n_arms, sum(exposures) AS total_exposures
FROM {seen}
GROUP BY user_id
HAVING count(*) > 1{bot_filter}

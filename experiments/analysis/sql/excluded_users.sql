-- Stage 1b: the seen users left out of the analysis: exposed to more than one arm, or (bot filter)
-- more exposures than the spec allows. Every other seen user is an analysis user with exactly one
-- row in {seen}, so "window exposures of analysis users" is an anti-join with this small table.
SELECT user_id
FROM {seen}
GROUP BY user_id
HAVING count(*) > 1{bot_filter}

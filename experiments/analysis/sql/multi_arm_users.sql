-- Users seen in more than one arm (excluded from the analysis, reported as a count).
SELECT count(*) AS users
FROM (
    SELECT user_id FROM {seen} GROUP BY user_id HAVING count(*) > 1
) multi

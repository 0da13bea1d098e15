-- Users seen in more than one arm (excluded from the analysis, reported as a count).
SELECT count(*) AS users
FROM {excluded}
WHERE n_arms > 1

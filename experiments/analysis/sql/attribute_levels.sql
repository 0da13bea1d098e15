-- The most frequent levels of one user attribute among the analysis users (indicators are made
-- for all but the first; rarer levels fall into the reference group).
SELECT {attribute} AS level, count(*) AS users
FROM {attributes}
WHERE {attribute} IS NOT NULL
GROUP BY {attribute}
ORDER BY count(*) DESC, {attribute}
LIMIT {max_levels}

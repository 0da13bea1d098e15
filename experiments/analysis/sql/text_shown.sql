-- The analysis users' text exposures summed over the users, per (arm, viewer segment, reason, item):
-- the text blocks that need no per-user rows (the text metrics' pairs, the text feature keys, the
-- samples) read this small table instead of each grouping the per-user {user_texts} rows again. It has
-- the columns of {user_texts} but user_id, so their SQL runs on it unchanged and sums the same.
SELECT arm, segment, reason_id, item_id, CAST(sum(exposures) AS BIGINT) AS exposures
FROM {user_texts}
GROUP BY arm, segment, reason_id, item_id

-- Winsorizing caps: a percentile of each capped column's non-zero values, pooled over arms
-- (one cap for every arm, so the cap itself cannot differ by treatment).
SELECT
{caps}
FROM {per_user}

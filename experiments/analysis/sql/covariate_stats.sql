-- Regression adjustment: per arm, the cross-products of the covariate vector x with itself and
-- with each metric's y and d (abkit/stats/regression.py). Only these sums leave the engine.
WITH covariate_rows AS (
    SELECT arm,
{columns}
    FROM {attributes}
)
SELECT arm, count(*) AS n,
{sums}
FROM covariate_rows
GROUP BY arm

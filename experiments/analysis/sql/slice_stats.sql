-- Heterogeneity explorer: the primary metric's sums per arm and slice (one or two user attributes).
SELECT arm{group_columns}, count(*) AS n,
    sum(y) AS sum_y, sum(y * y) AS sum_y2{ratio_sums}
FROM (
    SELECT arm{group_values}, {y} AS y{d_column}
    FROM {attributes}
) slice_rows
GROUP BY arm{group_columns}

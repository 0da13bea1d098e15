-- Stage 3: the only rows that leave the database. Per arm (and per arm x dimension value):
-- n and the sums, sums of squares and cross-products each metric needs (abkit/stats/types.py).
-- With every dimension at once, {grouping} is GROUPING SETS (the arm alone, and the arm with each
-- dimension): one read of the per-user table and each row's products computed once.
SELECT
    arm{group_columns},
    count(*) AS n,
    sum(window_open) AS open_window_users,
{sums}
FROM {per_user}
GROUP BY {grouping}

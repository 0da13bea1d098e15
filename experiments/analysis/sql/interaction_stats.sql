-- Concurrent experiments: this experiment's analysis users who were also in another experiment in
-- the window (one arm there), with the primary metric's sums per (experiment, this arm, other arm).
WITH other_arms AS (
    SELECT user_id, experiment, min(arm) AS other_arm
    FROM {exposures}
    WHERE experiment <> $experiment
      AND ts >= $window_start
      AND ts < $window_end{as_of_filter}
    GROUP BY user_id, experiment
    HAVING min(arm) = max(arm)  -- one arm there (as count(DISTINCT arm) = 1, without a per-group set)
)
SELECT o.experiment, p.arm, o.other_arm, count(*) AS n,
    sum(p.y) AS sum_y, sum(p.y * p.y) AS sum_y2{ratio_sums}
FROM (
    SELECT user_id, arm, {y} AS y{d_column}
    FROM {per_user}
) p
JOIN other_arms o ON o.user_id = p.user_id
GROUP BY o.experiment, p.arm, o.other_arm

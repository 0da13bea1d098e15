-- The only exposures that exist for an analysis (docs/interface.md, Metrics): this experiment's exposures with
-- ts in [window_start, window_end). They decide who is in the analysis, exposure counts,
-- attribution anchors, multi-arm detection and each user's first exposure.
{cte_name} AS (
    SELECT user_id, item_id, {arm_column}, ts, reason_id{exposure_columns}
    FROM {exposures}
    WHERE {experiment_filter}
      AND ts >= $window_start
      AND ts < $window_end{exposure_as_of_filter}
)

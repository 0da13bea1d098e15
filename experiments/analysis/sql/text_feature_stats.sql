-- CTR/CVR by text feature: per arm x feature x level, the user-clustered sufficient statistics
-- of Σclicks/Σexposures and Σorders/Σclicks. Per user and level: exposures = the user's
-- exposures whose text has that level; clicks/orders = the user's attributed events whose
-- anchoring exposure (the latest one of the same item before the event, see
-- anchored_events.sql) has that level. Exposures without a joinable text are left out.
-- The features table: (reason_id, item_id, segment, <one VARCHAR level column per feature>).
WITH
{window_exposures},
user_segments AS (
    SELECT user_id, min(segment) AS segment FROM {users} GROUP BY user_id
),
shown AS (
    SELECT x.user_id, x.item_id, x.ts, x.reason_id, u.arm,
           CASE WHEN f.reason_id IS NULL THEN 0 ELSE 1 END AS has_text,
           f.mentions_promo, f.mentions_priority_aspect, f.length_bucket, f.unfaithful
    FROM window_exposures x
    JOIN {per_user} u ON u.user_id = x.user_id
    LEFT JOIN user_segments g ON g.user_id = x.user_id
    LEFT JOIN {features} f
      ON f.reason_id = x.reason_id
     AND f.item_id = x.item_id
     AND f.segment IS NOT DISTINCT FROM g.segment
),
{anchored_events},
counted AS (
    SELECT user_id, arm, mentions_promo, mentions_priority_aspect, length_bucket, unfaithful,
           1 AS exposures, 0 AS clicks, 0 AS orders
    FROM shown
    WHERE has_text = 1
    UNION ALL
    SELECT user_id, arm, mentions_promo, mentions_priority_aspect, length_bucket, unfaithful,
           0 AS exposures,
           CASE WHEN type = 'click' THEN 1 ELSE 0 END AS clicks,
           CASE WHEN type = 'order' THEN 1 ELSE 0 END AS orders
    FROM event_anchors
    WHERE has_text = 1
),
by_level AS (
    SELECT user_id, arm, 'mentions_promo' AS feature, mentions_promo AS level, exposures, clicks, orders FROM counted
    UNION ALL
    SELECT user_id, arm, 'mentions_priority_aspect', mentions_priority_aspect, exposures, clicks, orders FROM counted
    UNION ALL
    SELECT user_id, arm, 'length_bucket', length_bucket, exposures, clicks, orders FROM counted
    UNION ALL
    SELECT user_id, arm, 'unfaithful', unfaithful, exposures, clicks, orders FROM counted
),
per_user_level AS (
    SELECT arm, feature, level, user_id,
           CAST(sum(exposures) AS DOUBLE) AS e,
           CAST(sum(clicks) AS DOUBLE) AS c,
           CAST(sum(orders) AS DOUBLE) AS o
    FROM by_level
    GROUP BY arm, feature, level, user_id
)
SELECT arm, feature, level,
       count(*) AS n,
       sum(e) AS sum_e, sum(e * e) AS sum_e2,
       sum(c) AS sum_c, sum(c * c) AS sum_c2, sum(c * e) AS sum_ce,
       sum(o) AS sum_o, sum(o * o) AS sum_o2, sum(o * c) AS sum_oc
FROM per_user_level
GROUP BY arm, feature, level

-- CTR/CVR by text feature: per arm x feature x level, the user-clustered sufficient statistics
-- of Σclicks/Σexposures and Σorders/Σclicks. Per user and level: exposures = the user's
-- exposures whose text has that level ({user_texts}); clicks/orders = the user's attributed events
-- whose anchoring exposure (the latest one of the same item before the event, {attributed}) has
-- that level. Exposures without a joinable text are left out (no row in the features table).
-- The features table: (reason_id, item_id, segment, <one VARCHAR level column per feature>).
WITH
user_segments AS (
    SELECT user_id, min(segment) AS segment FROM {users} GROUP BY user_id
),
counted AS (
    -- per (user, text): exposures, and the clicks and orders anchored on them
    SELECT user_id, arm, segment, reason_id, item_id,
           CAST(sum(exposures) AS DOUBLE) AS e,
           CAST(sum(clicks) AS DOUBLE) AS c,
           CAST(sum(orders) AS DOUBLE) AS o
    FROM (
        SELECT t.user_id, t.arm, g.segment, t.reason_id, t.item_id, t.exposures, 0 AS clicks, 0 AS orders
        FROM {user_texts} t
        LEFT JOIN user_segments g ON g.user_id = t.user_id
        UNION ALL
        SELECT a.user_id, a.arm, g.segment, a.anchor_reason_id AS reason_id, a.item_id, 0 AS exposures,
               CASE WHEN a.type = 'click' THEN 1 ELSE 0 END AS clicks,
               CASE WHEN a.type = 'order' THEN 1 ELSE 0 END AS orders
        FROM {attributed} a
        LEFT JOIN user_segments g ON g.user_id = a.user_id
        WHERE a.type IN ('click', 'order') AND a.anchor_reason_id IS NOT NULL
    ) text_rows
    GROUP BY user_id, arm, segment, reason_id, item_id
),
leveled AS (
    SELECT c.user_id, c.arm, c.e, c.c, c.o,
           f.mentions_promo, f.mentions_priority_aspect, f.length_bucket, f.unfaithful
    FROM counted c
    JOIN {features} f
      ON f.reason_id = c.reason_id
     AND f.item_id = c.item_id
     AND f.segment IS NOT DISTINCT FROM c.segment
),
by_level AS (
    SELECT user_id, arm, 'mentions_promo' AS feature, mentions_promo AS level, e, c, o FROM leveled
    UNION ALL
    SELECT user_id, arm, 'mentions_priority_aspect', mentions_priority_aspect, e, c, o FROM leveled
    UNION ALL
    SELECT user_id, arm, 'length_bucket', length_bucket, e, c, o FROM leveled
    UNION ALL
    SELECT user_id, arm, 'unfaithful', unfaithful, e, c, o FROM leveled
),
per_user_level AS (
    SELECT arm, feature, level, user_id, sum(e) AS e, sum(c) AS c, sum(o) AS o
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

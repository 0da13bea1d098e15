-- CTR/CVR by text feature: per arm x feature x level, the user-clustered sufficient statistics
-- of Σclicks/Σexposures and Σorders/Σclicks. Per user and level: exposures = the user's
-- exposures whose text has that level ({user_texts}); clicks/orders = the user's attributed events
-- whose anchoring exposure (the latest one of the same item before the event, {attributed}) has
-- that level. Exposures without a joinable text are left out (no row in the features table).
-- The features table: (reason_id, item_id, segment, <one VARCHAR level column per feature>, never NULL).
-- Each exposure row and each event row meets its levels once and is summed per (arm, user, combination of
-- the four levels); one aggregation with a grouping set per feature then sums those per (arm, user, level)
-- without copying the rows once per feature.
WITH
text_rows AS (
    -- the user's exposures of a text, and the clicks and orders anchored on one; an event's viewer
    -- segment comes from its anchoring exposure's row in {user_texts} (the same user, arm, reason and
    -- item: exactly one row, since the anchor is one of the user's window exposures showing that reason)
    SELECT t.user_id, t.arm, t.segment, t.reason_id, t.item_id,
           CAST(t.exposures AS DOUBLE) AS e, CAST(0 AS DOUBLE) AS c, CAST(0 AS DOUBLE) AS o
    FROM {user_texts} t
    UNION ALL
    SELECT a.user_id, a.arm, t.segment, a.anchor_reason_id AS reason_id, a.item_id, CAST(0 AS DOUBLE) AS e,
           CAST(CASE WHEN a.type = 'click' THEN 1 ELSE 0 END AS DOUBLE) AS c,
           CAST(CASE WHEN a.type = 'order' THEN 1 ELSE 0 END AS DOUBLE) AS o
    FROM {attributed} a
    LEFT JOIN {user_texts} t
      ON t.user_id = a.user_id AND t.arm = a.arm AND t.reason_id = a.anchor_reason_id AND t.item_id = a.item_id
    WHERE a.type IN ('click', 'order') AND a.anchor_reason_id IS NOT NULL
),
combos AS (
    -- each distinct combination of the four levels, numbered: the per-user sums are taken per (user,
    -- combination) first, on an integer instead of four strings, then per level of each feature
    SELECT f.*, dense_rank() OVER (
               ORDER BY f.mentions_promo, f.mentions_priority_aspect, f.length_bucket, f.unfaithful) AS combo
    FROM {features} f
),
per_user_combo AS (
    SELECT r.arm, r.user_id, k.combo, sum(r.e) AS e, sum(r.c) AS c, sum(r.o) AS o
    FROM text_rows r
    JOIN combos k
      ON k.reason_id = r.reason_id
     AND k.item_id = r.item_id
     AND k.segment IS NOT DISTINCT FROM r.segment
    GROUP BY r.arm, r.user_id, k.combo
),
combo_levels AS (
    SELECT DISTINCT combo, mentions_promo, mentions_priority_aspect, length_bucket, unfaithful FROM combos
),
per_user_level AS (
    SELECT p.arm, p.user_id,
           CASE WHEN grouping(l.mentions_promo) = 0 THEN 'mentions_promo'
                WHEN grouping(l.mentions_priority_aspect) = 0 THEN 'mentions_priority_aspect'
                WHEN grouping(l.length_bucket) = 0 THEN 'length_bucket'
                ELSE 'unfaithful' END AS feature,
           COALESCE(l.mentions_promo, l.mentions_priority_aspect, l.length_bucket, l.unfaithful) AS level,
           sum(p.e) AS e, sum(p.c) AS c, sum(p.o) AS o
    FROM per_user_combo p
    JOIN combo_levels l ON l.combo = p.combo
    GROUP BY GROUPING SETS (
        (p.arm, p.user_id, l.mentions_promo),
        (p.arm, p.user_id, l.mentions_priority_aspect),
        (p.arm, p.user_id, l.length_bucket),
        (p.arm, p.user_id, l.unfaithful)
    )
)
SELECT arm, feature, level,
       count(*) AS n,
       sum(e) AS sum_e, sum(e * e) AS sum_e2,
       sum(c) AS sum_c, sum(c * c) AS sum_c2, sum(c * e) AS sum_ce,
       sum(o) AS sum_o, sum(o * o) AS sum_o2, sum(o * c) AS sum_oc
FROM per_user_level
GROUP BY arm, feature, level

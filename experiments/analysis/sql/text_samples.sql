-- A seeded sample of the texts each arm showed to each viewer segment (users.segment): up to
-- $per_group distinct (item, text) per (arm, segment), ordered by md5 of the seed and the ids
-- (deterministic, same on DuckDB and Spark), with the item's title and the exposure count.
WITH
shown AS (
    SELECT t.arm, t.segment, t.item_id, t.reason_id, CAST(sum(t.exposures) AS BIGINT) AS exposures
    FROM {user_texts} t
    GROUP BY t.arm, t.segment, t.item_id, t.reason_id
),
texts AS (
    SELECT s.arm, s.segment, s.item_id, s.reason_id, r.text, r.reason_segment, s.exposures,
           row_number() OVER (
               PARTITION BY s.arm, s.segment
               ORDER BY md5(concat($seed, '|', COALESCE(s.segment, ''), '|', s.item_id, '|', s.reason_id)),
                        s.item_id, s.reason_id) AS pick
    FROM shown s
    JOIN (
        SELECT reason_id, min(text) AS text, min(segment) AS reason_segment
        FROM {reasons}
        GROUP BY reason_id
    ) r ON r.reason_id = s.reason_id
)
SELECT t.arm, t.segment, t.item_id, i.title, t.reason_id, t.text, t.reason_segment, t.exposures
FROM texts t
LEFT JOIN (
    SELECT item_id, min(title) AS title FROM {items} GROUP BY item_id
) i ON i.item_id = t.item_id
WHERE t.pick <= $per_group
ORDER BY t.arm, t.segment, t.pick

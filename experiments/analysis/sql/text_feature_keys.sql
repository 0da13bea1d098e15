-- The distinct (reason, item, viewer segment) triples the analysis users saw, with the text:
-- the only rows that go to Python, where the text features are computed once per triple.
-- The segment is the viewer's (users.segment), so "mentions the persona's priority aspect"
-- is judged for the person who read the text, in personalized and generic arms alike.
WITH
{window_exposures},
user_segments AS (
    SELECT user_id, min(segment) AS segment FROM {users} GROUP BY user_id
)
SELECT x.reason_id, x.item_id, g.segment, min(r.text) AS text
FROM window_exposures x
JOIN {per_user} u ON u.user_id = x.user_id
LEFT JOIN user_segments g ON g.user_id = x.user_id
JOIN (
    SELECT reason_id, min(text) AS text FROM {reasons} GROUP BY reason_id
) r ON r.reason_id = x.reason_id
GROUP BY x.reason_id, x.item_id, g.segment

-- The distinct (reason, item, viewer segment) triples the analysis users saw, with the text:
-- the only rows that go to Python (abkit.text.features: each (item, text) scored once, each segment's
-- aspect found once).
-- The segment is the viewer's (users.segment), so "mentions the persona's priority aspect"
-- is judged for the person who read the text, in personalized and generic arms alike.
WITH
user_segments AS (
    SELECT user_id, min(segment) AS segment FROM {users} GROUP BY user_id
)
SELECT t.reason_id, t.item_id, g.segment, min(r.text) AS text
FROM {user_texts} t
LEFT JOIN user_segments g ON g.user_id = t.user_id
JOIN (
    SELECT reason_id, min(text) AS text FROM {reasons} GROUP BY reason_id
) r ON r.reason_id = t.reason_id
GROUP BY t.reason_id, t.item_id, g.segment

-- The distinct (reason, item, viewer segment) triples the analysis users saw, with the text:
-- the only rows that go to Python (abkit.text.features: each (item, text) scored once, each segment's
-- aspect found once).
-- The segment is the viewer's (users.segment, carried by {user_texts}), so "mentions the persona's
-- priority aspect" is judged for the person who read the text, in personalized and generic arms alike.
SELECT k.reason_id, k.item_id, k.segment, r.text
FROM (
    SELECT DISTINCT reason_id, item_id, segment FROM {user_texts}
) k
JOIN (
    SELECT reason_id, min(text) AS text FROM {reasons} GROUP BY reason_id
) r ON r.reason_id = k.reason_id

-- Pre-exposure user attributes of the analysis users, one row per user (users table columns:
-- `segment`, else a key of its `extra` map). Feeds regression adjustment and the slice explorer.
SELECT p.user_id, p.arm{per_user_columns}{attribute_columns}
FROM {per_user} p
LEFT JOIN (
    SELECT user_id{attribute_picks}
    FROM {users}
    GROUP BY user_id
) ua ON ua.user_id = p.user_id

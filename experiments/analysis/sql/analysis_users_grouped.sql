    -- the seen users with exactly one arm (and, with the bot filter, not too many exposures)
    SELECT user_id,
           min(arm) AS arm,
           sum(exposures) AS exposures,
           min(first_exposure) AS first_exposure,
           max(last_exposure) AS last_exposure{dimension_pick}
    FROM {seen}
    GROUP BY user_id
    HAVING count(*) = 1{bot_filter}

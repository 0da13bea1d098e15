    -- the seen users minus stage 1b's excluded users (multi-arm, bot filter): one row each already
    SELECT s.user_id, s.arm, s.exposures, s.first_exposure, s.last_exposure{dimension_columns}
    FROM {seen} s
    WHERE NOT EXISTS (SELECT 1 FROM {excluded} ex WHERE ex.user_id = s.user_id)

-- The usable rows of a ranked raw table (clean_<table>.sql): no failed check, first copy of each
-- id. Raw logs carry no arrival time, so ingested_at is the row's own ts (--as-of filters by ts).
SELECT {columns}, ts AS ingested_at
FROM {ranked}
WHERE reason IS NULL AND copy = 1

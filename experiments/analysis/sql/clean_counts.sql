-- What became of the raw rows: accepted, duplicate, or the reason they are unusable. The counts
-- add up to the rows read, as `abkit ingest` reports them.
SELECT outcome, count(*) AS n_rows
FROM (
    SELECT CASE WHEN reason IS NOT NULL THEN reason
                WHEN copy > 1 THEN 'duplicate'
                ELSE 'accepted' END AS outcome
    FROM {ranked}
) outcomes
GROUP BY outcome

-- Seen for the first time: the staged postings core_posting_seen does not hold yet.
INSERT INTO core_posting_seen (platform_code, posting_id, first_seen_at, last_seen_at, item_hash)
SELECT
    s.platform_code,
    s.posting_id,
    s.seen_at AS first_seen_at,
    s.seen_at AS last_seen_at,
    s.item_hash
FROM stg_posting AS s
WHERE
    s.load_id = :load_id
    AND NOT EXISTS (
        SELECT 1 FROM core_posting_seen AS c
        WHERE c.platform_code = s.platform_code AND c.posting_id = s.posting_id
    )

-- A platform's first load: every staged posting is seen for the first time. As merge/06_insert_seen.sql
-- otherwise.
INSERT INTO core_posting_seen (platform_code, posting_id, first_seen_at, last_seen_at, item_hash)
SELECT
    s.platform_code,
    s.posting_id,
    s.seen_at AS first_seen_at,
    s.seen_at AS last_seen_at,
    s.item_hash
FROM stg_posting AS s
WHERE s.load_id = :load_id

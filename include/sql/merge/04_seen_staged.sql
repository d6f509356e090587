-- Seen, for the postings staged: first and last seen widen to the load's interval end, and the item hash
-- becomes the staged one (the item to recognise next time: delivered again, it changes nothing, being
-- stored or older than what is stored).
UPDATE core_posting_seen AS c
SET
    first_seen_at = CASE WHEN s.seen_at < c.first_seen_at THEN s.seen_at ELSE c.first_seen_at END,
    last_seen_at = CASE WHEN s.seen_at > c.last_seen_at THEN s.seen_at ELSE c.last_seen_at END,
    item_hash = s.item_hash
FROM stg_posting AS s
WHERE
    s.load_id = :load_id
    AND c.platform_code = s.platform_code
    AND c.posting_id = s.posting_id
    AND (
        s.seen_at < c.first_seen_at
        OR s.seen_at > c.last_seen_at
        OR c.item_hash IS NULL
        OR s.item_hash <> c.item_hash
    )

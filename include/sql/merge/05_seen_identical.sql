-- Seen, for the postings delivered identical to their last item (stg_posting_seen): first and last seen
-- widen to the load's interval end.
UPDATE core_posting_seen AS c
SET
    first_seen_at = CASE WHEN s.seen_at < c.first_seen_at THEN s.seen_at ELSE c.first_seen_at END,
    last_seen_at = CASE WHEN s.seen_at > c.last_seen_at THEN s.seen_at ELSE c.last_seen_at END
FROM stg_posting_seen AS s
WHERE
    s.load_id = :load_id
    AND c.platform_code = s.platform_code
    AND c.posting_id = s.posting_id
    AND (s.seen_at < c.first_seen_at OR s.seen_at > c.last_seen_at)

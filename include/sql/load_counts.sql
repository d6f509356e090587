-- What a load brings, against the core layer before the merge: new, updated (content changed and not
-- older), unchanged (same content, or an older version than the warehouse holds).
SELECT
    COUNT(*) AS staged,
    SUM(CASE WHEN c.posting_id IS NULL THEN 1 ELSE 0 END) AS new,
    SUM(CASE WHEN c.posting_id IS NOT NULL AND s.content_hash <> c.content_hash
             AND s.modified_at >= c.modified_at THEN 1 ELSE 0 END) AS updated
FROM stg_posting AS s
LEFT JOIN core_posting AS c ON c.platform_code = s.platform_code AND c.posting_id = s.posting_id
WHERE s.load_id = :load_id

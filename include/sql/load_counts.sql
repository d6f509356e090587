-- What a load brings, against the core layer before the merge: new (inserted), updated (content changed
-- and not older), unchanged (same content, or an older version than the warehouse holds).
SELECT
    COUNT(*) AS staged,
    SUM(CASE WHEN c.posting_id IS NULL THEN 1 ELSE 0 END) AS inserted,
    SUM(
        CASE
            WHEN
                c.posting_id IS NOT NULL
                AND s.content_hash <> c.content_hash
                AND s.modified_at >= c.modified_at
                THEN 1
            ELSE 0
        END
    ) AS updated
FROM stg_posting AS s
LEFT JOIN core_posting AS c ON s.platform_code = c.platform_code AND s.posting_id = c.posting_id
WHERE s.load_id = :load_id

-- History: the version a changed posting replaces (content changed, and not older than it) goes to
-- core_posting_version before step 02 overwrites it.
INSERT INTO core_posting_version (
    platform_code, posting_id, modified_at, content_hash, title, salary_min, salary_max, openings,
    valid_through, load_id
)
SELECT
    c.platform_code,
    c.posting_id,
    c.modified_at,
    c.content_hash,
    c.title,
    c.salary_min,
    c.salary_max,
    c.openings,
    c.valid_through,
    c.load_id
FROM stg_posting AS s
INNER JOIN core_posting AS c ON s.platform_code = c.platform_code AND s.posting_id = c.posting_id
WHERE
    s.load_id = :load_id
    AND s.content_hash <> c.content_hash
    AND s.modified_at >= c.modified_at
ON CONFLICT (platform_code, posting_id, modified_at) DO NOTHING

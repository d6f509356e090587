-- Cross-platform duplicates: per platform, its postings and how many of them share a job with a posting
-- of another platform. A posting's job is its fuzzy match group (core_posting_link.match_id, see
-- feeds/linkage.py), or else its deterministic cluster.
WITH matched AS (
    SELECT p.platform_code, COALESCE(l.match_id, p.cluster_id) AS match_id
    FROM core_posting AS p
    LEFT JOIN core_posting_link AS l
        ON l.platform_code = p.platform_code AND l.posting_id = p.posting_id
),
jobs AS (
    SELECT match_id, COUNT(DISTINCT platform_code) AS platforms
    FROM matched
    GROUP BY match_id
)
SELECT m.platform_code,
       COUNT(*) AS postings,
       SUM(CASE WHEN j.platforms > 1 THEN 1 ELSE 0 END) AS duplicates
FROM matched AS m
JOIN jobs AS j ON j.match_id = m.match_id
GROUP BY m.platform_code
ORDER BY m.platform_code

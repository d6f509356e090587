-- Cross-platform duplicates: per platform, its open postings and how many of them share a cluster
-- with a posting of another platform.
WITH clusters AS (
    SELECT cluster_id, COUNT(DISTINCT platform_code) AS platforms
    FROM core_posting
    GROUP BY cluster_id
)
SELECT p.platform_code,
       COUNT(*) AS postings,
       SUM(CASE WHEN k.platforms > 1 THEN 1 ELSE 0 END) AS duplicates
FROM core_posting AS p
JOIN clusters AS k ON k.cluster_id = p.cluster_id
GROUP BY p.platform_code
ORDER BY p.platform_code

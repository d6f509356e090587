-- Job postings of a reporting week (date_posted from Saturday to Friday, inclusive) that the feeds had
-- delivered by the week's deadline, grouped for the summary: postings, openings, and how many share a
-- job with a posting of another platform (the fuzzy match group of core_posting_link, or else the
-- deterministic cluster).
WITH matched AS (
    SELECT p.platform_code, p.posting_id, COALESCE(l.match_id, p.cluster_id) AS match_id
    FROM core_posting AS p
    LEFT JOIN core_posting_link AS l
        ON l.platform_code = p.platform_code AND l.posting_id = p.posting_id
),
jobs AS (
    SELECT match_id, COUNT(DISTINCT platform_code) AS platforms
    FROM matched
    GROUP BY match_id
)
SELECT p.platform_code,
       p.province_code,
       p.industry_category,
       COUNT(*) AS postings,
       SUM(p.openings) AS openings,
       SUM(CASE WHEN j.platforms > 1 THEN 1 ELSE 0 END) AS duplicates
FROM core_posting AS p
JOIN core_posting_seen AS s ON s.platform_code = p.platform_code AND s.posting_id = p.posting_id
JOIN matched AS m ON m.platform_code = p.platform_code AND m.posting_id = p.posting_id
JOIN jobs AS j ON j.match_id = m.match_id
WHERE p.date_posted BETWEEN :first_day AND :last_day
  AND s.first_seen_at <= :as_of
GROUP BY p.platform_code, p.province_code, p.industry_category

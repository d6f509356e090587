-- Job postings of a reporting week (date_posted from Saturday to Friday, inclusive) that the feeds had
-- delivered by the week's deadline, grouped for the summary: postings, openings, and how many share a
-- job with a posting of another platform (the view core_posting_job: the fuzzy match group, or else the
-- deterministic cluster).
SELECT
    p.platform_code,
    p.province_code,
    p.industry_category,
    COUNT(*) AS postings,
    SUM(p.openings) AS openings,
    SUM(CASE WHEN j.platforms > 1 THEN 1 ELSE 0 END) AS duplicates
FROM core_posting AS p
INNER JOIN core_posting_seen AS s ON p.platform_code = s.platform_code AND p.posting_id = s.posting_id
INNER JOIN core_posting_job AS j ON p.platform_code = j.platform_code AND p.posting_id = j.posting_id
WHERE
    p.date_posted BETWEEN :first_day AND :last_day
    AND s.first_seen_at <= :as_of
GROUP BY p.platform_code, p.province_code, p.industry_category

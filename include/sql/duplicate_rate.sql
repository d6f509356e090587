-- Cross-platform duplicates: per platform, its postings and how many of them share a job with a posting
-- of another platform (the view core_posting_job: the fuzzy match group, or else the cluster).
SELECT
    platform_code,
    COUNT(*) AS postings,
    SUM(CASE WHEN platforms > 1 THEN 1 ELSE 0 END) AS duplicates
FROM core_posting_job
GROUP BY platform_code
ORDER BY platform_code

-- The postings a link run must recompute from: new or changed in the run's loads (load_ids), or whose
-- cluster changed since they were linked, or never linked; with what their link row said (their old
-- blocks and group, whose other members are recomputed too).
SELECT
    p.platform_code,
    p.posting_id,
    p.cluster_id,
    p.title_key,
    p.employer_name,
    p.employer_credit_code,
    p.province_code,
    p.city,
    p.education_level,
    p.employment_type,
    p.salary_min,
    p.salary_max,
    p.openings,
    l.province_code AS old_province_code,
    l.employer_key AS old_employer_key,
    l.employer_credit_code AS old_credit_code,
    l.match_id AS old_match_id
FROM core_posting AS p
LEFT JOIN core_posting_link AS l
    ON p.platform_code = l.platform_code AND p.posting_id = l.posting_id
WHERE
    l.posting_id IS NULL
    OR l.cluster_id <> p.cluster_id
    OR p.load_id IN :load_ids

-- Changed content replaces the old; closed once valid_through has passed at the load's time or at the
-- last time the posting was seen.
UPDATE core_posting AS c
SET
    title = s.title,
    title_key = s.title_key,
    employer_name = s.employer_name,
    employer_credit_code = s.employer_credit_code,
    province_code = s.province_code,
    city = s.city,
    industry_category = s.industry_category,
    education_level = s.education_level,
    employment_type = s.employment_type,
    salary_min = s.salary_min,
    salary_max = s.salary_max,
    openings = s.openings,
    date_posted = s.date_posted,
    valid_through = s.valid_through,
    modified_at = s.modified_at,
    url = s.url,
    description = s.description,
    employer_credit_code_raw = s.employer_credit_code_raw,
    salary_flagged = s.salary_flagged,
    problems = s.problems,
    content_hash = s.content_hash,
    cluster_id = s.cluster_id,
    load_id = s.load_id,
    closed_at = CASE
        WHEN
            s.valid_through <= s.seen_at
            OR s.valid_through <= (
                SELECT w.last_seen_at FROM core_posting_seen AS w
                WHERE w.platform_code = c.platform_code AND w.posting_id = c.posting_id
            )
            THEN s.valid_through
    END
FROM stg_posting AS s
WHERE
    s.load_id = :load_id
    AND c.platform_code = s.platform_code
    AND c.posting_id = s.posting_id
    AND s.content_hash <> c.content_hash
    AND s.modified_at >= c.modified_at

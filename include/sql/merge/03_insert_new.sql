-- New postings: staged, and not yet in core_posting; closed at once when valid_through has passed at the
-- load's time.
INSERT INTO core_posting (
    platform_code, posting_id, title, title_key, employer_name, employer_credit_code, province_code,
    city, industry_category, education_level, employment_type, salary_min, salary_max, openings,
    date_posted, valid_through, modified_at, url, description, employer_credit_code_raw,
    salary_flagged, problems, content_hash, cluster_id, closed_at, load_id
)
SELECT
    s.platform_code,
    s.posting_id,
    s.title,
    s.title_key,
    s.employer_name,
    s.employer_credit_code,
    s.province_code,
    s.city,
    s.industry_category,
    s.education_level,
    s.employment_type,
    s.salary_min,
    s.salary_max,
    s.openings,
    s.date_posted,
    s.valid_through,
    s.modified_at,
    s.url,
    s.description,
    s.employer_credit_code_raw,
    s.salary_flagged,
    s.problems,
    s.content_hash,
    s.cluster_id,
    CASE WHEN s.valid_through <= s.seen_at THEN s.valid_through END AS closed_at,
    s.load_id
FROM stg_posting AS s
WHERE
    s.load_id = :load_id
    AND NOT EXISTS (
        SELECT 1 FROM core_posting AS c
        WHERE c.platform_code = s.platform_code AND c.posting_id = s.posting_id
    )

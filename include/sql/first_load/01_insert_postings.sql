-- A platform's first load (it holds no postings yet): every staged posting is new, so it is inserted
-- without looking for it in core_posting (validation has rejected repeated ids, so the staged postings
-- are unique). As merge/03_insert_new.sql otherwise.
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
WHERE s.load_id = :load_id

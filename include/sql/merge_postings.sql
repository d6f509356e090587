-- Merge one load into the core layer, on PostgreSQL and SQLite alike (hence CASE rather than
-- GREATEST/LEAST). The load is staged in two tables: stg_posting holds the postings it brings in full
-- (new, or delivered as another item than last time) and stg_posting_seen the ids of the postings it
-- delivered identical to their last item (not normalised again). Each statement
-- is set-based and touches only rows it changes, so rerunning a load changes nothing. Statements are
-- separated by lines holding only two semicolons and run in order, in one transaction that holds the
-- platform's lock (an advisory lock on PostgreSQL; SQLite has one writer), so NOT EXISTS is safe and
-- cheaper than ON CONFLICT. A platform's first load can only add: the statements marked as touching
-- existing postings only are skipped then, and so are the lines that end with "(existing postings
-- only)", which spares the inserts a look-up of every staged posting (validation has rejected
-- repeated ids, so the staged postings are unique). On PostgreSQL a platform's first load does not come
-- here at all: it is copied straight into core_posting and core_posting_seen (feeds/load.py,
-- _copy_first_load), which must write what these statements would.
-- 1. History: the version a changed posting replaces (content changed, and not older than it).
-- (existing postings only: skipped when the platform holds none)
INSERT INTO core_posting_version
    (platform_code, posting_id, modified_at, content_hash, title, salary_min, salary_max, openings, valid_through, load_id)
SELECT c.platform_code, c.posting_id, c.modified_at, c.content_hash, c.title, c.salary_min, c.salary_max,
       c.openings, c.valid_through, c.load_id
FROM stg_posting AS s
JOIN core_posting AS c ON c.platform_code = s.platform_code AND c.posting_id = s.posting_id
WHERE s.load_id = :load_id
  AND s.content_hash <> c.content_hash AND s.modified_at >= c.modified_at
ON CONFLICT (platform_code, posting_id, modified_at) DO NOTHING
;;
-- 2. Changed content replaces the old; closed once valid_through has passed at the load's time or at the
--    last time the posting was seen.
-- (existing postings only: skipped when the platform holds none)
UPDATE core_posting AS c
SET title = s.title, title_key = s.title_key, employer_name = s.employer_name,
    employer_credit_code = s.employer_credit_code, province_code = s.province_code, city = s.city,
    industry_category = s.industry_category, education_level = s.education_level,
    employment_type = s.employment_type, salary_min = s.salary_min, salary_max = s.salary_max,
    openings = s.openings, date_posted = s.date_posted, valid_through = s.valid_through,
    modified_at = s.modified_at, url = s.url, description = s.description,
    employer_credit_code_raw = s.employer_credit_code_raw, salary_flagged = s.salary_flagged,
    problems = s.problems, content_hash = s.content_hash, cluster_id = s.cluster_id, load_id = s.load_id,
    closed_at = CASE WHEN s.valid_through <= s.seen_at
                       OR s.valid_through <= (SELECT w.last_seen_at FROM core_posting_seen AS w
                                              WHERE w.platform_code = s.platform_code
                                                AND w.posting_id = s.posting_id)
                     THEN s.valid_through END
FROM stg_posting AS s
WHERE s.load_id = :load_id
  AND c.platform_code = s.platform_code AND c.posting_id = s.posting_id
  AND s.content_hash <> c.content_hash AND s.modified_at >= c.modified_at
;;
-- 3. New postings.
INSERT INTO core_posting
    (platform_code, posting_id, title, title_key, employer_name, employer_credit_code, province_code, city, industry_category, education_level, employment_type, salary_min, salary_max, openings, date_posted, valid_through, modified_at, url, description, employer_credit_code_raw, salary_flagged, problems, content_hash, cluster_id,
     closed_at, load_id)
SELECT platform_code, posting_id, title, title_key, employer_name, employer_credit_code, province_code, city, industry_category, education_level, employment_type, salary_min, salary_max, openings, date_posted, valid_through, modified_at, url, description, employer_credit_code_raw, salary_flagged, problems, content_hash, cluster_id,
       CASE WHEN valid_through <= seen_at THEN valid_through END, load_id
FROM stg_posting AS s
WHERE s.load_id = :load_id
  AND NOT EXISTS (SELECT 1 FROM core_posting AS c WHERE c.platform_code = s.platform_code AND c.posting_id = s.posting_id) -- (existing postings only)
;;
-- 4. Seen: first and last seen widen to the load's interval end, for the postings staged (whose item is
--    the one to recognise next time: delivered again, it changes nothing, being stored or older than
--    what is stored) and for those delivered identical to their last item.
-- (existing postings only: skipped when the platform holds none)
UPDATE core_posting_seen AS c
SET first_seen_at = CASE WHEN s.seen_at < c.first_seen_at THEN s.seen_at ELSE c.first_seen_at END,
    last_seen_at = CASE WHEN s.seen_at > c.last_seen_at THEN s.seen_at ELSE c.last_seen_at END,
    item_hash = s.item_hash
FROM stg_posting AS s
WHERE s.load_id = :load_id
  AND c.platform_code = s.platform_code AND c.posting_id = s.posting_id
  AND (s.seen_at < c.first_seen_at OR s.seen_at > c.last_seen_at
       OR c.item_hash IS NULL OR s.item_hash <> c.item_hash)
;;
-- (existing postings only: skipped when the platform holds none)
UPDATE core_posting_seen AS c
SET first_seen_at = CASE WHEN s.seen_at < c.first_seen_at THEN s.seen_at ELSE c.first_seen_at END,
    last_seen_at = CASE WHEN s.seen_at > c.last_seen_at THEN s.seen_at ELSE c.last_seen_at END
FROM stg_posting_seen AS s
WHERE s.load_id = :load_id
  AND c.platform_code = s.platform_code AND c.posting_id = s.posting_id
  AND (s.seen_at < c.first_seen_at OR s.seen_at > c.last_seen_at)
;;
INSERT INTO core_posting_seen (platform_code, posting_id, first_seen_at, last_seen_at, item_hash)
SELECT s.platform_code, s.posting_id, s.seen_at, s.seen_at, s.item_hash
FROM stg_posting AS s
WHERE s.load_id = :load_id
  AND NOT EXISTS (SELECT 1 FROM core_posting_seen AS c WHERE c.platform_code = s.platform_code AND c.posting_id = s.posting_id) -- (existing postings only)
;;
-- 5. Postings of this platform whose valid_through has passed by the load's time are closed.
-- (existing postings only: skipped when the platform holds none)
UPDATE core_posting
SET closed_at = valid_through
WHERE platform_code = :platform_code AND closed_at IS NULL AND valid_through <= :seen_at

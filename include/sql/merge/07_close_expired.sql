-- Postings of this platform whose valid_through has passed by the load's time are closed.
UPDATE core_posting
SET closed_at = valid_through
WHERE
    platform_code = :platform_code
    AND closed_at IS NULL
    AND valid_through <= :seen_at

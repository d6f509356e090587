"""The Assets the DAGs produce and react to (cheap to import at parse time)."""

from airflow.sdk import Asset

# An accepted provincial report (new or revised) landed in core_report.
REPORTS = Asset(name="provincial_reports", uri="recruitment-month://warehouse/core_report")
# Job postings merged into core_posting.
POSTINGS = Asset(name="job_postings", uri="recruitment-month://warehouse/core_posting")

"""What every DAG of the project shares: owner, retries, the failure alert. Cheap to import."""

from datetime import timedelta

from recruitment_month.alerts import on_failure

OWNER = "data-engineering"

DEFAULT_ARGS = {
    "owner": OWNER,
    "retries": 2,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": True,
    "on_failure_callback": on_failure,
}

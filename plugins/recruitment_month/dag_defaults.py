"""What every DAG of the project shares: owner, retries, a time limit, the failure alert. Cheap to import.

Every task has an ``execution_timeout``: a task that hangs (a stalled SMTP or SFTP connection, a lock
in the warehouse) is failed and retried instead of holding its DAG's only active run forever. The
default fits a task of ordinary size; a DAG sets its own per task where the work is known to be
shorter (a run every 10 minutes) or longer (a full rebuild).
"""

from datetime import timedelta

from recruitment_month.alerts import on_failure

OWNER = "data-engineering"

DEFAULT_ARGS = {
    "owner": OWNER,
    "retries": 2,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": True,
    "execution_timeout": timedelta(minutes=30),
    "on_failure_callback": on_failure,
}

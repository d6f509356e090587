"""
### Provincial weekly reports

Collects the weekly reports the 32 reporting units put into their inbox folders
(`<inbox>/<unit_code>/<file>`), checks them, loads the accepted ones and tells every sender what
happened to their file.

| | |
|---|---|
| **Owner** | data-engineering |
| **Schedule** | every 10 minutes (Asia/Shanghai and UTC alike); no catch-up: each run handles every file not yet processed |
| **Inputs** | the inbox (`RECRUITMENT_INBOX`, local folder or any fsspec URL); connection `warehouse`; `smtp_default` |
| **Outputs** | `core_report` (every accepted revision), `audit_inbox_file`, `audit_report_problem`, `audit_quality_run`, receipts and rejection notices; the Asset `provincial_reports` when a report was accepted |

**Tasks.** `collect` archives every new file (content-addressed) and records its landing time: the
storage's last-modified time, but never earlier than the previous poll that did not see the file (a
backdated upload gains nothing); that time decides on time or late. It refuses oversize files unread
and records every entry it skips, with the reason. `process` parses each file in a child process with
memory and time limits, validates (suite `include/expectations/provincial_report.json` plus the
history and outlier rules) and loads it in its own transaction, together with its receipt or notice,
written to the outbox (`audit_notification`) as *pending*; a file that breaks parsing or loading is
retried and then quarantined (`parse_crashed`), and the other files go on. `notify` sends everything
waiting in the outbox for this DAG, and the alerts, oldest first, whichever run wrote it, and runs even
when `process` failed. `announce` emits the Asset that makes `friday_consolidation` revise a summary.

**Rerun.** Clear any task of any run: files already processed are not processed again and messages
already sent are not sent again. To reprocess a file, upload it again with any change.

**When it fails.** `collect`: the inbox is unreachable or the warehouse is down (check the connection).
`process`: the warehouse failed (a file cannot fail it: a bad file is rejected or quarantined, and
answered).
`notify`: the SMTP server refused or is down (the outbox row in `audit_notification` says why; the
messages wait there and the next run sends them).
"""

from datetime import UTC, datetime, timedelta

from airflow.sdk import dag, task

from recruitment_month.assets import REPORTS
from recruitment_month.dag_defaults import DEFAULT_ARGS
from recruitment_month.tags import Tag


@dag(
    dag_id="provincial_reports",
    schedule="*/10 * * * *",
    start_date=datetime(2022, 11, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=[Tag.REPORTS, Tag.QUALITY, Tag.EMAIL],
    doc_md=__doc__,
)
def provincial_reports():
    @task(execution_timeout=timedelta(minutes=8))
    def collect(run_id=None) -> dict:
        from recruitment_month import warehouse
        from recruitment_month.reports import pipeline

        result = pipeline.collect(warehouse.engine(), run_id=run_id)
        return {"seen": result.seen, "new": result.new}

    @task(execution_timeout=timedelta(minutes=20))
    def process(collected: dict, run_id=None) -> dict:
        from recruitment_month import warehouse
        from recruitment_month.reports import pipeline

        return pipeline.run_process(warehouse.engine(), run_id=run_id, collected=collected)

    @task(trigger_rule="all_done", execution_timeout=timedelta(minutes=10))
    def notify() -> dict:
        from recruitment_month import warehouse
        from recruitment_month.reports import pipeline

        return pipeline.notify(warehouse.engine())

    @task(outlets=[REPORTS], execution_timeout=timedelta(minutes=2))
    def announce(summary: dict, outlet_events=None) -> None:
        from airflow.sdk.exceptions import AirflowSkipException

        if not summary["accepted"]:
            raise AirflowSkipException("No report was accepted in this run")
        outlet_events[REPORTS].extra = {"weeks": summary["accepted_weeks"], "accepted": summary["accepted"]}

    summary = process(collect())
    summary >> notify()
    announce(summary)


provincial_reports()

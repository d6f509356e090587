"""
### Friday consolidation: the national weekly summary

At each reporting deadline (Friday 17:00 Beijing) freezes the **preliminary** summary of the week —
completeness and timeliness of the 32 units, national totals for the week and cumulative, by unit, week
over week, quality warnings, job-feed figures by platform, province and industry, and a cross-check of
reported positions against feed openings — and emails it to the ministry (HTML with charts, plain text,
`.xlsx` attachment). When a report for a closed week is accepted later (the Asset `provincial_reports`),
it produces a **revised** version with what changed. Every version is kept in the mart.

| | |
|---|---|
| **Owner** | data-engineering |
| **Schedule** | Fridays 17:00 Asia/Shanghai (09:00 UTC), and on every `provincial_reports` Asset event |
| **Inputs** | `core_report`, `audit_inbox_file`, `audit_report_problem`, `core_posting`; connection `warehouse`, `smtp_default` |
| **Outputs** | `mart_weekly_summary`, `mart_summary_unit`, `mart_summary_national`; the summary emails to `campaign.recipients.summary` |

**Week.** The run's moment is its logical date (the Friday 17:00 trigger) or, for Asset-triggered and
manual runs, which have none, its `run_after`. Every campaign week whose deadline has passed at that
moment is looked at: a week without a summary gets its preliminary one (computed from what had landed
by the deadline, whenever the run happens); a week with one is recomputed and gets a new version only
if something changed. Fridays outside the campaign do nothing.

**Outbox.** `consolidate` writes each new version and its email in one transaction; `email_summaries`
sends whatever this DAG has waiting in the outbox (`audit_notification`), oldest first, and runs even
when an earlier task failed. A version stored while the mail server was down goes out with the next
run, whichever it is.

**Rerun.** Clear any task: an unchanged week writes no new version and the outbox never sends a
version twice. To resend a version, set its row's `status` in `audit_notification` to `failed` and
clear `email_summaries`.

**When it fails.** `collect_reports`: as `provincial_reports`. `consolidate`: the warehouse (the log
names the week). `email_summaries`: SMTP — the outbox row says why (`last_error`); it stays waiting
and any later run sends it.
"""

from datetime import UTC, datetime, timedelta

from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, dag, task

from recruitment_month.approval import SignOffOperator
from recruitment_month.assets import REPORTS
from recruitment_month.dag_defaults import DEFAULT_ARGS
from recruitment_month.tags import Tag


@dag(
    dag_id="friday_consolidation",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 * * * *", timezone="Asia/Shanghai"), assets=REPORTS
    ),
    start_date=datetime(2022, 11, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=[Tag.SUMMARY, Tag.EMAIL, Tag.WAREHOUSE],
    doc_md=__doc__,
)
def friday_consolidation():
    @task
    def collect_reports(run_id=None) -> dict:
        from recruitment_month import warehouse
        from recruitment_month.reports import pipeline

        return pipeline.catch_up(warehouse.engine(), run_id=run_id)

    @task
    def consolidate(logical_date=None, dag_run=None) -> list[dict]:
        from recruitment_month import warehouse
        from recruitment_month.summary import pipeline

        return pipeline.consolidate(warehouse.engine(), logical_date or dag_run.run_after)

    @task
    def revision_digest(logical_date=None, dag_run=None) -> list[dict]:
        from recruitment_month import warehouse
        from recruitment_month.summary import pipeline

        return pipeline.digest(warehouse.engine(), logical_date or dag_run.run_after)

    @task.short_circuit(ignore_downstream_trigger_rules=False)
    def sign_off_request() -> dict | None:
        from airflow.sdk.configuration import conf

        from recruitment_month import warehouse
        from recruitment_month.summary import signoff

        return signoff.request(
            warehouse.engine(), conf.get("api", "base_url", fallback="http://localhost:8080")
        )

    sign_off = SignOffOperator(
        task_id="sign_off",
        subject="{{ ti.xcom_pull(task_ids='sign_off_request')['subject'] }}",
        body="{{ ti.xcom_pull(task_ids='sign_off_request')['body'] }}",
        retries=0,
    )

    @task(trigger_rule="all_done")
    def apply_sign_off(request: dict | None, answer: dict | None) -> dict:
        from recruitment_month import warehouse
        from recruitment_month.summary import signoff

        if not request:
            return {"outcome": None, "keys": []}
        return signoff.apply(warehouse.engine(), request["keys"], answer)

    @task(trigger_rule="all_done", execution_timeout=timedelta(minutes=15))
    def email_summaries() -> dict:
        from recruitment_month import warehouse
        from recruitment_month.summary import pipeline

        return pipeline.deliver(warehouse.engine())

    request = sign_off_request()
    applied = apply_sign_off(request, sign_off.output)
    collect_reports() >> consolidate() >> revision_digest() >> request >> sign_off >> applied
    applied >> email_summaries()


friday_consolidation()

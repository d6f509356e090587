"""
### Friday consolidation: the national weekly summary

At each reporting deadline (Friday 17:00 Beijing) freezes the **preliminary** summary of the week —
completeness and timeliness of the 32 units, national totals for the week and cumulative, by unit, week
over week, quality warnings, job-feed figures by platform, province and industry, and a cross-check of
reported positions against feed openings — and emails it to the ministry (HTML with charts, plain text,
`.xlsx` attachment). When a report for a closed week is accepted later (the Asset `provincial_reports`),
it produces a **revised** version; the ministry gets one digest of them a day. Every version is kept.

| | |
|---|---|
| **Owner** | data-engineering |
| **Schedule** | hourly (the Friday 17:00 Asia/Shanghai deadline among them), and on every `provincial_reports` Asset event |
| **Inputs** | `core_report`, `audit_inbox_file`, `audit_report_problem`, `core_posting`; connection `warehouse`, `smtp_default`; `campaign.yaml` (`revision_digest_at`, `sign_off`) |
| **Outputs** | `mart_weekly_summary`, `mart_summary_unit`, `mart_summary_national`, `mart_summary_mailing`; the summary emails to `campaign.recipients.summary` |

**Week.** The run's moment is its logical date or, for Asset-triggered and manual runs, which have
none, its `run_after`. Every campaign week whose deadline has passed at that moment is looked at: a
week without a summary gets its preliminary one (computed from what had landed by the deadline,
whenever the run happens) and its email; a week with one is recomputed and gets a new version only if
something changed. Outside the campaign nothing happens.

**Digest.** A revised version is stored, not mailed: `revision_digest` mails, from
`revision_digest_at` (09:00 Beijing) each day, one email per week whose newest version stored by then
is newer than the one last mailed — that version, with what changed since the last email.

**Sign-off.** With `sign_off.required`, the emails are written held; `sign_off` (human-in-the-loop,
Required Actions) asks the reviewers: *Approve* sends, *Reject* holds and alerts the data engineers, no
answer by `sign_off.timeout` follows `sign_off.on_timeout`. `apply_sign_off` records the answer in
`mart_summary_mailing`. Without sign-off, `sign_off_request` skips both.

**Outbox.** Each email is written to the outbox (`audit_notification`) in the transaction that decides
it; `email_summaries` sends whatever this DAG has waiting, oldest first, and runs even when an earlier
task failed. An email decided while the mail server was down goes out with the next run.

**Rerun.** Clear any task: an unchanged week writes no new version, a day's digest is mailed once, and
the outbox never sends an email twice. To resend one, set its row's `status` in `audit_notification`
to `failed` (a held one: `pending`) and clear `email_summaries`.

**When it fails.** `collect_reports`: as `provincial_reports`. `consolidate`, `revision_digest`: the
warehouse (the log names the week). `sign_off`: no answer and no timeout policy — the emails stay held
and the next run asks again. `email_summaries`: SMTP — the outbox row says why (`last_error`); it stays
waiting and any later run sends it.
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
        execution_timeout=timedelta(minutes=5),
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

"""
### Report reminders: the ladder before and after each Friday deadline

Every hour, sends the reminder steps that fall in that hour: before the deadline (default Thursday
17:00 and Friday 15:00), at the deadline (Friday 17:00), and follow-ups (default Saturday 10:00 and
Monday 10:00), each to the units that have nothing accepted for the week *at send time* (missing, or only
rejected files — their reminder says what was wrong). Each follow-up also sends the ministry the
escalation: the units still outstanding, whom to phone, days outstanding and the reminders already sent.
Once the last week's follow-ups are over (`campaign.yaml`, `final_report`: by default the Monday after
the last reporting Friday, 12:00), the run of that hour sends the campaign's **final report** (总结):
the weeks' trend, every unit's totals and record, the platforms' postings, and a workbook. Times are
configuration (`campaign.yaml`, `reminders`, `final_report`).

| | |
|---|---|
| **Owner** | data-engineering |
| **Schedule** | hourly at :00 Asia/Shanghai (a step at 17:00 Beijing is sent by the 17:00 run = 09:00 UTC) |
| **Inputs** | `core_report`, `audit_inbox_file`; connection `warehouse`, `smtp_default` |
| **Outputs** | reminder emails to the units' contacts, escalation emails to `campaign.recipients.escalation`, the final report to `campaign.recipients.summary`; `audit_notification` |

**Moment.** The run's logical date (the hourly trigger), or `run_after` for a manual run; a step is sent
by the run whose hour `(moment − 1 h, moment]` contains it. Outside the campaign no step is due.

**Rerun.** Clear any run: every message is keyed (step, week, unit) in the ledger and never sent twice;
a unit that has submitted since is skipped. A missed step is sent by rerunning the run of its hour.
The final report is keyed once per campaign: any run after its time writes it if it is not in the
ledger yet, and a rerun sends nothing new.

**When it fails.** `collect_reports`: as `provincial_reports`. `send_reminders`: SMTP or the warehouse —
the ledger row says why; the retry resends only what failed. `final_report`: the warehouse or SMTP — it
is not written until `send_reminders` succeeded, and the next hourly run tries again.
"""

from datetime import UTC, datetime, timedelta

from airflow.sdk import CronTriggerTimetable, dag, task

from recruitment_month.dag_defaults import DEFAULT_ARGS
from recruitment_month.tags import Tag


@dag(
    dag_id="report_reminders",
    schedule=CronTriggerTimetable("0 * * * *", timezone="Asia/Shanghai"),
    start_date=datetime(2022, 11, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=[Tag.REMINDERS, Tag.EMAIL],
    doc_md=__doc__,
)
def report_reminders():
    @task
    def collect_reports(run_id=None) -> dict:
        from recruitment_month import warehouse
        from recruitment_month.reports import pipeline

        return pipeline.catch_up(warehouse.engine(), run_id=run_id)

    @task(execution_timeout=timedelta(minutes=15))
    def send_reminders(logical_date=None, dag_run=None) -> dict:
        from recruitment_month import reminders, warehouse

        return reminders.run(warehouse.engine(), logical_date or dag_run.run_after)

    @task(execution_timeout=timedelta(minutes=15))
    def final_report(logical_date=None, dag_run=None) -> dict:
        from recruitment_month import warehouse
        from recruitment_month.summary import final

        return final.run(warehouse.engine(), logical_date or dag_run.run_after)

    collect_reports() >> send_reminders() >> final_report()


report_reminders()

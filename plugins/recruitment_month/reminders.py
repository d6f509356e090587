"""The reminder ladder (docs/summary-and-reminders.md): before the deadline, at it, after it, and the escalation.

Steps come from the campaign file (``reminders.before_deadline``, the deadline itself,
``reminders.follow_up``). A run at moment ``M`` sends the steps whose time falls in ``(M − window, M]``:
each re-checks every unit's status *at send time* and writes to the units that have nothing accepted
for the week (missing, or only rejected files), one email per unit and step, keyed in the ledger; each
follow-up also sends the ministry the list of units still outstanding. A unit that submits between two
steps gets no further reminder.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from recruitment_month.notifications import Mail

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    from recruitment_month.config import Campaign

log = logging.getLogger(__name__)

WINDOW = timedelta(hours=1)
OWNER = "report_reminders"  # the DAG whose runs deliver reminders and escalations


@dataclass(frozen=True)
class Step:
    week: date
    kind: str  # before | deadline | follow_up
    number: int  # 1.. within its kind
    at: datetime

    @property
    def name(self) -> str:
        return self.kind if self.kind == "deadline" else f"{self.kind}_{self.number}"


def steps(campaign: Campaign) -> list[Step]:
    out = []
    for week in campaign.weeks:
        for number, r in enumerate(campaign.reminders.before_deadline, start=1):
            out.append(Step(week, "before", number, r.at(week, campaign.tz)))
        out.append(Step(week, "deadline", 1, campaign.deadline(week)))
        for number, r in enumerate(campaign.reminders.follow_up, start=1):
            out.append(Step(week, "follow_up", number, r.at(week, campaign.tz)))
    return sorted(out, key=lambda s: s.at)


def due(campaign: Campaign, moment: datetime, window: timedelta = WINDOW) -> list[Step]:
    return [s for s in steps(campaign) if moment - window < s.at <= moment]


def outstanding(conn: Connection, campaign: Campaign, week: date, as_of: datetime) -> dict[str, str | None]:
    """Units with nothing accepted for ``week`` by ``as_of`` and not exempt for it: code → why their
    last file was rejected (None when nothing was received)."""
    from recruitment_month import config
    from recruitment_month.summary.compute import exempted, first_accepted, rejections

    settled = set(first_accepted(conn, week, as_of)) | exempted(conn, campaign, week)
    rejected = rejections(conn, campaign, week, as_of)
    return {u.code: rejected.get(u.code) for u in config.units().units if u.code not in settled}


def _render(name: str, *, html: bool = True, **context) -> tuple[str, str | None]:
    from recruitment_month.reports.messages import environment

    env = environment()
    text = env.get_template(f"{name}.txt.j2").render(**context)
    return text, env.get_template(f"{name}.html.j2").render(**context) if html else None


def mails_for(step: Step, pending: dict[str, str | None], campaign: Campaign, moment: datetime) -> list[Mail]:
    from recruitment_month import config
    from recruitment_month.reports.messages import local, week_label

    units = config.units().by_code()
    label = week_label(step.week, campaign)
    deadline_local = local(campaign.deadline(step.week), campaign)
    mails = []
    for code, note in sorted(pending.items()):
        unit = units[code]
        status = "rejected" if note else "missing"
        if step.kind == "before":
            lead = f"{label}周报将于{deadline_local}截止，目前尚未收到贵单位通过校验的周报，请按时报送。"
            subject = f"【校园招聘月】提醒：请于{deadline_local}前报送{label}周报"
        elif step.kind == "deadline":
            lead = f"{label}周报已于{deadline_local}截止，仍未收到贵单位通过校验的周报，请尽快报送，逾期报送将在周报中注明。"
            subject = f"【校园招聘月】{label}周报已截止，请尽快报送"
        else:
            lead = f"{label}周报截止已过，至今仍未收到贵单位通过校验的周报，请于今日内报送；如有困难请与教育部高校学生司联系。"
            subject = f"【校园招聘月】再次提醒：{label}周报仍未收到"
        if status == "rejected":
            subject += "（已收到的文件未通过校验）"
        text, html = _render(
            "reminder",
            subject=subject,
            heading="周报报送提醒",
            accent="#bc4c00",
            unit=unit,
            lead=lead,
            week_label=label,
            deadline_local=deadline_local,
            status=status,
            note=note,
            ministry=campaign.ministry,
            campaign_name=campaign.name,
        )
        mails.append(
            Mail(
                key=f"reminder/{campaign.code}/{step.week}/{step.name}/{code}",
                kind=f"reminder_{step.kind}",
                subject_ref=f"{step.week}/{code}",
                recipients=list(unit.contacts),
                subject=subject,
                text=text,
                html=html,
            )
        )
    if step.kind == "follow_up" and pending:
        listed = [
            {
                "code": c,
                "name": units[c].name,
                "status": "rejected" if n else "missing",
                "note": n,
                "contacts": units[c].contacts,
            }
            for c, n in sorted(pending.items())
        ]
        text, _ = _render(
            "escalation",
            html=False,
            ministry=campaign.ministry,
            moment_local=local(moment, campaign),
            units=listed,
            week_label=label,
            deadline_local=deadline_local,
            reminders_sent=1 + len(campaign.reminders.before_deadline) + step.number,
            campaign_name=campaign.name,
        )
        mails.append(
            Mail(
                key=f"escalation/{campaign.code}/{step.week}/{step.name}",
                kind="escalation",
                subject_ref=str(step.week),
                recipients=list(campaign.recipients.escalation),
                subject=f"【校园招聘月】督办：{label}周报仍有{len(pending)}个单位未报送",
                text=text,
            )
        )
    return mails


def run(engine: Engine, moment: datetime, window: timedelta = WINDOW) -> dict:
    """Write every step due at ``moment`` to the outbox, then deliver; returns what each step queued.

    A step's recipients are decided and its messages written in one transaction. Before delivering,
    a reminder still waiting in the outbox for a unit whose report has been accepted since is
    withdrawn: after a mail outage nobody is asked for a report they have already sent."""
    from recruitment_month import config, notifications

    campaign = config.campaign()
    report = {}
    for step in due(campaign, moment, window):
        with engine.begin() as conn:
            # Live status at send time: a unit that has submitted since the step's hour (a late run,
            # a rerun) is not written to.
            pending = outstanding(conn, campaign, step.week, max(moment, datetime.now(UTC)))
            queued = notifications.enqueue(conn, mails_for(step, pending, campaign, moment), owner=OWNER)
        report[f"{step.week}/{step.name}"] = {"units": sorted(pending), "queued": queued}
        log.info(
            "Reminder step %s of week %s: %d unit(s) outstanding %s; %d message(s) queued",
            step.name,
            step.week,
            len(pending),
            sorted(pending),
            queued,
        )
    if not report:
        log.info("No reminder step is due at %s", moment.astimezone(campaign.tz))
    withdrawn = withdraw_settled(engine, campaign)
    return {"steps": report, "withdrawn": withdrawn, "delivered": deliver(engine)}


def deliver(engine: Engine) -> dict[str, int]:
    from recruitment_month import notifications

    return notifications.deliver(engine, [OWNER, notifications.ALERTS])


def withdraw_settled(engine: Engine, campaign: Campaign) -> int:
    """Mark *withdrawn* every reminder not yet sent whose unit has had a report accepted since."""
    from sqlalchemy import select, update

    from recruitment_month.schema import audit_notification as t
    from recruitment_month.summary.compute import first_accepted

    now = datetime.now(UTC)
    withdrawn = 0
    with engine.begin() as conn:
        waiting = conn.execute(
            select(t.c.message_key, t.c.subject_ref).where(
                t.c.owner == OWNER, t.c.kind.like("reminder_%"), t.c.status.in_(("pending", "failed"))
            )
        ).all()
        accepted: dict[date, set] = {}
        for key, ref in waiting:
            week_text, code = ref.split("/")
            week = date.fromisoformat(week_text)
            if week not in accepted:
                accepted[week] = set(first_accepted(conn, week, now))
            if code in accepted[week]:
                conn.execute(
                    update(t)
                    .where(t.c.message_key == key, t.c.status.in_(("pending", "failed")))
                    .values(
                        status="withdrawn",
                        last_error="the unit's report was accepted before this could be sent",
                    )
                )
                withdrawn += 1
    if withdrawn:
        log.info("Withdrew %d reminder(s) whose unit has reported since", withdrawn)
    return withdrawn

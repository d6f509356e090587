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

    def label(self, campaign: Campaign) -> str:
        """Which step this is, in the words its subject and first line begin with: 截止前一天 (or 截止前N天),
        今天17:00截止, 已逾期, 逾期第N天 (N counted in calendar days after the deadline's day)."""
        deadline = campaign.deadline(self.week)
        days = (self.at.astimezone(campaign.tz).date() - deadline.astimezone(campaign.tz).date()).days
        if self.kind == "deadline":
            return "已逾期"
        if self.kind == "follow_up":
            return f"逾期第{max(days, 1)}天"
        if days == 0:
            return f"今天{deadline.astimezone(campaign.tz):%H:%M}截止"
        return "截止前一天" if days == -1 else f"截止前{-days}天"


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
    """Units that owe ``week``'s report as of ``as_of`` (missing or rejected, and not exempt): code → why
    their last file was rejected (None when nothing was received)."""
    from recruitment_month import config, status

    codes = [u.code for u in config.units().units]
    weeks = status.week_statuses(conn, campaign, week, as_of, codes)
    return {code: w.note for code, w in weeks.items() if w.owed}


def _render(name: str, *, html: bool = True, **context) -> tuple[str, str | None]:
    from recruitment_month.reports.messages import environment

    env = environment()
    text = env.get_template(f"{name}.txt.j2").render(**context)
    return text, env.get_template(f"{name}.html.j2").render(**context) if html else None


@dataclass(frozen=True)
class StepText:
    """What one step says to one unit: its subject and first line."""

    subject: str
    lead: str


def step_text(step: Step, unit, campaign: Campaign, *, rejected: bool) -> StepText:
    """The subject and first line of ``step`` for ``unit``; both begin with the step's label, so no two
    steps of a week read alike."""
    from recruitment_month.dates import cn_moment
    from recruitment_month.reports.messages import PREFIX, week_label

    label = step.label(campaign)
    week = week_label(step.week, campaign)
    deadline = cn_moment(campaign.deadline(step.week), campaign.tz, year=False)
    nothing = "已收到的文件均未通过校验" if rejected else "尚未收到贵单位的周报"
    if step.kind == "before":
        lead = f"【{label}】{week}周报将于{deadline}截止，目前{nothing}，请按时报送。"
        subject = f"{PREFIX}【{label}】请于{deadline}前报送{unit.name}{week}周报"
    elif step.kind == "deadline":
        lead = f"【{label}】{week}周报已于{deadline}截止，{nothing}，请尽快报送，逾期报送将在全国汇总中注明。"
        subject = f"{PREFIX}【{label}】{unit.name}{week}周报已过截止时间，请尽快报送"
    else:
        lead = (
            f"【{label}】{week}周报已于{deadline}截止，至今{nothing}，请于今日内报送；"
            "如有困难请与教育部高校学生司联系。"
        )
        subject = f"{PREFIX}【{label}】{unit.name}{week}周报仍未收到，请今日内报送"
    if rejected:
        subject += "（已收到的文件未通过校验）"
    return StepText(subject, lead)


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
        words = step_text(step, unit, campaign, rejected=status == "rejected")
        text, html = _render(
            "reminder",
            subject=words.subject,
            heading=f"周报报送提醒：{step.label(campaign)}",
            accent="#bc4c00",
            salutation=unit.authority,
            unit=unit,
            lead=words.lead,
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
                subject=words.subject,
                text=text,
                html=html,
            )
        )
    return mails


def run(engine: Engine, moment: datetime, window: timedelta = WINDOW) -> dict:
    """Write every step due at ``moment`` to the outbox, then deliver; returns what each step queued.

    A step's recipients are decided and its messages written in one transaction. Before delivering,
    a reminder still waiting in the outbox for a unit whose report has been accepted since is
    withdrawn: after a mail outage nobody is asked for a report they have already sent."""
    from recruitment_month import config, notifications
    from recruitment_month.escalation import escalation_mail

    campaign = config.campaign()
    report = {}
    for step in due(campaign, moment, window):
        with engine.begin() as conn:
            # Live status at send time: a unit that has submitted since the step's hour (a late run,
            # a rerun) is not written to.
            pending = outstanding(conn, campaign, step.week, max(moment, datetime.now(UTC)))
            mails = mails_for(step, pending, campaign, moment)
            if step.kind == "follow_up" and pending:
                mails.append(escalation_mail(conn, step, pending, moment))
            queued = notifications.enqueue(conn, mails, owner=OWNER)
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
    from recruitment_month.status import first_accepted

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

"""The escalation (督办) to ministry staff at each follow-up step of the reminder ladder
(docs/summary-and-reminders.md): the units whose report of the week is still outstanding, each with
the person to phone and the number, how many days it is outstanding and the reminders it has already
been sent, in HTML and plain text.

* **Who to phone**: the 填报人 and 联系电话 of the unit's latest accepted report (of any week), else the
  ``contact_name`` / ``contact_phone`` of ``units.yaml``.
* **Reminders already sent**: the unit's reminders of the week that the notification ledger records as
  sent, with their times; the follow-up reminder going out with this escalation is said as such.
* **"其余单位已按要求报送"** only when every other unit's report was accepted on time; otherwise the
  email names the units that reported late.

The caller writes the mail to the outbox in the transaction that decided the step. Pure module: no
Airflow import.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from recruitment_month.notifications import Mail

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from recruitment_month.config import Campaign
    from recruitment_month.reminders import Step

STEP_LABELS = {"before": "截止前提醒", "deadline": "截止时提醒", "follow_up": "截止后催报"}


@dataclass(frozen=True)
class SentReminder:
    step: str  # e.g. 截止前提醒（第1次）
    sent_at: str  # local time, e.g. 2022年11月10日 17:00


@dataclass(frozen=True)
class OutstandingUnit:
    code: str
    name: str
    status: str  # missing | rejected
    note: str | None  # why its last file was rejected
    contact_name: str | None
    contact_phone: str | None
    contact_source: str  # report | config
    emails: list[str]
    days: int  # calendar days since the deadline
    reminders: list[SentReminder]


def _step_label(name: str) -> str:
    """``before_1`` → 截止前提醒（第1次）; ``deadline`` → 截止时提醒."""
    if name == "deadline":
        return STEP_LABELS[name]
    kind, _, number = name.rpartition("_")
    return f"{STEP_LABELS.get(kind, kind)}（第{number}次）"


def latest_contacts(conn: Connection, codes: list[str]) -> dict[str, tuple[str | None, str | None]]:
    """unit → (填报人, 联系电话) of its latest accepted report naming either, for the units given."""
    from sqlalchemy import or_, select

    from recruitment_month.schema import core_report as r

    if not codes:
        return {}
    rows = conn.execute(
        select(r.c.unit_code, r.c.contact_name, r.c.contact_phone)
        .where(r.c.unit_code.in_(codes), or_(r.c.contact_name.is_not(None), r.c.contact_phone.is_not(None)))
        .order_by(r.c.landed_at, r.c.revision)
    ).all()
    found: dict[str, tuple[str | None, str | None]] = {}
    for code, name, phone in rows:
        if (name or "").strip() or (phone or "").strip():
            found[code] = ((name or "").strip() or None, (phone or "").strip() or None)
    return found


def sent_reminders(
    conn: Connection, campaign: Campaign, week: date, codes: list[str]
) -> dict[str, list[SentReminder]]:
    """unit → the reminders of ``week`` the ledger records as sent to it, oldest first."""
    from sqlalchemy import select

    from recruitment_month.reports.messages import local
    from recruitment_month.schema import audit_notification as t

    if not codes:
        return {}
    refs = {f"{week}/{code}": code for code in codes}
    rows = conn.execute(
        select(t.c.message_key, t.c.subject_ref, t.c.sent_at)
        .where(t.c.kind.like("reminder_%"), t.c.subject_ref.in_(list(refs)), t.c.status == "sent")
        .order_by(t.c.sent_at)
    ).all()
    out: dict[str, list[SentReminder]] = {code: [] for code in codes}
    for key, ref, sent_at in rows:
        step = key.split("/")[-2]
        out[refs[ref]].append(SentReminder(_step_label(step), local(sent_at, campaign)))
    return out


def _late_units(conn: Connection, campaign: Campaign, week: date, as_of: datetime) -> list[str]:
    """The names of the units whose first accepted report of ``week`` landed after its deadline."""
    from recruitment_month import config
    from recruitment_month.summary.compute import first_accepted

    deadline = campaign.deadline(week)
    accepted = first_accepted(conn, week, as_of)
    return [u.name for u in config.units().units if u.code in accepted and accepted[u.code] > deadline]


def outstanding_units(
    conn: Connection, step: Step, pending: dict[str, str | None], moment: datetime
) -> list[OutstandingUnit]:
    """The outstanding units of ``step``'s week (``pending``: code → rejection note), as the email lists them."""
    from recruitment_month import config

    campaign = config.campaign()
    units = config.units().by_code()
    codes = sorted(pending)
    from_reports = latest_contacts(conn, codes)
    reminders = sent_reminders(conn, campaign, step.week, codes)
    days = (moment.astimezone(campaign.tz).date() - step.week).days
    out = []
    for code in codes:
        unit = units[code]
        name, phone = from_reports.get(code, (None, None))
        source = "report" if code in from_reports else "config"
        out.append(
            OutstandingUnit(
                code=code,
                name=unit.name,
                status="rejected" if pending[code] else "missing",
                note=pending[code],
                contact_name=name if source == "report" else unit.contact_name,
                contact_phone=phone if source == "report" else unit.contact_phone,
                contact_source=source,
                emails=list(unit.contacts),
                days=days,
                reminders=reminders[code],
            )
        )
    return out


def escalation_mail(conn: Connection, step: Step, pending: dict[str, str | None], moment: datetime) -> Mail:
    """The escalation of a follow-up ``step`` about the ``pending`` units, keyed per week and step."""
    from recruitment_month import config
    from recruitment_month.reports.messages import environment, local, week_label

    campaign = config.campaign()
    listed = outstanding_units(conn, step, pending, moment)
    late = _late_units(conn, campaign, step.week, max(moment, datetime.now(moment.tzinfo)))
    label = week_label(step.week, campaign)
    subject = f"【校园招聘月】督办（第{step.number}次）：{label}周报仍有{len(listed)}个单位未报送"
    context = {
        "subject": subject,
        "heading": "周报督办",
        "accent": "#cf222e",
        "ministry": campaign.ministry,
        "data_team": campaign.data_team,
        "campaign_name": campaign.name,
        "moment_local": local(moment, campaign),
        "deadline_local": local(campaign.deadline(step.week), campaign),
        "week_label": label,
        "units": listed,
        "others": len(config.units().units) - len(listed),
        "late": late,
        "step_label": _step_label(step.name),
    }
    env = environment()
    return Mail(
        key=f"escalation/{campaign.code}/{step.week}/{step.name}",
        kind="escalation",
        subject_ref=str(step.week),
        recipients=list(campaign.recipients.escalation),
        subject=subject,
        text=env.get_template("escalation.txt.j2").render(**context),
        html=env.get_template("escalation.html.j2").render(**context),
    )

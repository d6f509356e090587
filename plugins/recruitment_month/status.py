"""A unit's status for a reporting week: the one rule every message, table and figure uses.

A unit's status for a week is decided by its **first accepted report**: *on time* when that report
landed at or before the week's deadline, *late* when after; *rejected* when files for the week arrived
and none was accepted; *missing* when nothing arrived. A later accepted file for the same week is a
correction (更正, revision 2, 3 …): its figures replace the earlier ones, but the week keeps the
timeliness of the first accepted report. Receipts, reminders, the summary, the workbook and the demo's
own table all ask this module.

``decide`` is the rule itself (pure); ``first_accepted``, ``rejections`` and ``week_statuses`` read
what the warehouse holds as of a moment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from recruitment_month.config import Campaign

ON_TIME = "on_time"
LATE = "late"
REJECTED = "rejected"
MISSING = "missing"
EXEMPT = "exempt"  # excused for the week by ministry staff (the control room): neither missing nor reminded
STATUSES = (ON_TIME, LATE, MISSING, REJECTED, EXEMPT)
LABELS = {ON_TIME: "按时报送", LATE: "逾期报送", MISSING: "未报送", REJECTED: "未通过校验", EXEMPT: "免报"}


def timeliness(landed_at: datetime, deadline: datetime) -> str:
    """``on_time`` when ``landed_at`` is at or before ``deadline``, else ``late`` (to the microsecond:
    a file that landed at 17:00:01 is late)."""
    return ON_TIME if landed_at <= deadline else LATE


def decide(first_accepted_at: datetime | None, deadline: datetime, *, any_rejected: bool = False) -> str:
    """The week's status from the landing time of the unit's first accepted report (None when no
    report was accepted) and whether any file of the week was rejected."""
    if first_accepted_at is not None:
        return timeliness(first_accepted_at, deadline)
    return REJECTED if any_rejected else MISSING


@dataclass(frozen=True)
class UnitWeek:
    """What decides one unit's week: its status, the first accepted report's landing time, and the
    first problem of its latest rejected file (when it has only rejected files)."""

    status: str
    first_accepted_at: datetime | None = None
    note: str | None = None

    @property
    def reported(self) -> bool:
        return self.status in (ON_TIME, LATE)

    @property
    def owed(self) -> bool:
        """Still owes the week's report: nothing accepted and not exempt (missing or rejected)."""
        return self.status in (MISSING, REJECTED)


def first_accepted(conn: Connection, week: date, as_of: datetime) -> dict[str, datetime]:
    """unit → landing time of its first accepted report of ``week`` among those landed by ``as_of``."""
    from sqlalchemy import func, select

    from recruitment_month.schema import core_report as r

    rows = conn.execute(
        select(r.c.unit_code, func.min(r.c.landed_at))  # min() keeps the column's UTC type
        .where(r.c.week_ending == week, r.c.landed_at <= as_of)
        .group_by(r.c.unit_code)
    ).all()
    return dict(rows)


def rejections(conn: Connection, campaign: Campaign, week: date, as_of: datetime) -> dict[str, str]:
    """unit → the first problem of its latest rejected file for the week (landed by ``as_of``). A
    rejected file counts for the week it declares, or, when that cannot be read, the week it landed in."""
    from sqlalchemy import select

    from recruitment_month.schema import audit_inbox_file as f
    from recruitment_month.schema import audit_report_problem as p

    rows = conn.execute(
        select(f.c.file_id, f.c.unit_folder, f.c.week_ending, f.c.landed_at)
        .where(f.c.status == "rejected", f.c.landed_at <= as_of)
        .order_by(f.c.landed_at)
    ).all()
    latest: dict[str, str] = {}
    for file_id, folder, declared, landed in rows:
        attributed = declared if declared and campaign.is_week(declared) else campaign.week_for(landed)
        if attributed == week:
            latest[folder] = file_id
    notes = {}
    for folder, file_id in latest.items():
        message = conn.execute(
            select(p.c.message)
            .where(p.c.file_id == file_id, p.c.severity == "reject")
            .order_by(p.c.seq)
            .limit(1)
        ).scalar()
        notes[folder] = message or "文件未通过校验"
    return notes


def exempted(conn: Connection, campaign: Campaign, week: date) -> set[str]:
    """The units ministry staff excused from reporting for ``week`` (set in the control room). An
    exemption is a decision about the week, not something that landed, so it holds whatever the moment
    a status is decided as of; a report accepted for an exempt week still counts as on time or late."""
    from sqlalchemy import select

    from recruitment_month.schema import core_unit_exemption as x

    query = select(x.c.unit_code).where(x.c.campaign_code == campaign.code, x.c.week_ending == week)
    return set(conn.execute(query).scalars())


def week_statuses(
    conn: Connection, campaign: Campaign, week: date, as_of: datetime, codes: list[str]
) -> dict[str, UnitWeek]:
    """Every unit of ``codes``: its status for ``week`` from what had landed by ``as_of``."""
    deadline = campaign.deadline(week)
    first = first_accepted(conn, week, as_of)
    rejected = rejections(conn, campaign, week, as_of)
    exempt = exempted(conn, campaign, week)
    out = {}
    for code in codes:
        status = decide(first.get(code), deadline, any_rejected=code in rejected)
        if status in (MISSING, REJECTED) and code in exempt:
            status = EXEMPT
        note = rejected.get(code) if status == REJECTED else None
        out[code] = UnitWeek(status, first.get(code), note)
    return out

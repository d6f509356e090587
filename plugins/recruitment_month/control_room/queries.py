"""What the control room's pages read from the warehouse. Every value is a bind parameter."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import pairwise
from typing import TYPE_CHECKING

from recruitment_month.control_room import status as st

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from recruitment_month.config import Campaign


@dataclass(frozen=True)
class Cell:
    unit_code: str
    week_ending: date
    status: str
    corrected: bool

    @property
    def word(self) -> str:
        return st.WORDS[self.status]


@dataclass
class WeekColumn:
    week_ending: date
    number: int
    deadline: datetime
    cells: dict[str, Cell] = field(default_factory=dict)

    def count(self, status: str) -> int:
        return sum(1 for c in self.cells.values() if c.status == status)

    @property
    def reporting_rate(self) -> float:
        return (self.count("on_time") + self.count("late")) / len(self.cells) if self.cells else 0.0

    @property
    def on_time_rate(self) -> float:
        return self.count("on_time") / len(self.cells) if self.cells else 0.0


@dataclass(frozen=True)
class Board:
    units: list  # config.Unit, in configuration order
    weeks: list[WeekColumn]  # the current week first


def _first_accepted(conn: Connection) -> dict[tuple[str, date], tuple[datetime, int]]:
    from sqlalchemy import func, select

    from recruitment_month.schema import core_report as r

    rows = conn.execute(
        select(r.c.unit_code, r.c.week_ending, func.min(r.c.landed_at), func.count()).group_by(
            r.c.unit_code, r.c.week_ending
        )
    ).all()
    return {(code, week): (first, n) for code, week, first, n in rows}


def _rejected(conn: Connection, campaign: Campaign) -> set[tuple[str, date]]:
    """(unit, week) with a rejected file: the week it declares, or the week it landed in."""
    from sqlalchemy import select

    from recruitment_month.schema import audit_inbox_file as f

    rows = conn.execute(
        select(f.c.unit_folder, f.c.week_ending, f.c.landed_at).where(f.c.status == "rejected")
    ).all()
    out = set()
    for folder, declared, landed in rows:
        week = declared if declared and campaign.is_week(declared) else campaign.week_for(landed)
        out.add((folder, week or campaign.weeks[-1]))
    return out


def exemptions(
    conn: Connection, campaign: Campaign, week: date | None = None
) -> dict[tuple[str, date], dict]:
    from sqlalchemy import select

    from recruitment_month.schema import core_unit_exemption as x

    query = select(x).where(x.c.campaign_code == campaign.code)
    if week is not None:
        query = query.where(x.c.week_ending == week)
    return {(row["unit_code"], row["week_ending"]): dict(row) for row in conn.execute(query).mappings()}


def shown_weeks(campaign: Campaign, now: datetime) -> list[date]:
    """The weeks that have begun by ``now`` (at least the first), the current one first."""
    current = campaign.week_for(now) or campaign.weeks[-1]
    return sorted((w for w in campaign.weeks if w <= current), reverse=True)


def board(conn: Connection, campaign: Campaign, units: list, now: datetime) -> Board:
    accepted = _first_accepted(conn)
    rejected = _rejected(conn, campaign)
    exempt = exemptions(conn, campaign)
    columns = []
    for week in shown_weeks(campaign, now):
        column = WeekColumn(week, campaign.week_number(week), campaign.deadline(week))
        for unit in units:
            first, revisions = accepted.get((unit.code, week), (None, 0))
            evidence = st.Evidence(
                first_accepted_at=first,
                revisions=revisions,
                rejected=(unit.code, week) in rejected,
                exempt=(unit.code, week) in exempt,
                deadline=column.deadline,
                now=now,
            )
            column.cells[unit.code] = Cell(unit.code, week, st.status(evidence), st.corrected(evidence))
        columns.append(column)
    return Board(units=list(units), weeks=columns)


@dataclass(frozen=True)
class UnitWeek:
    unit: object  # config.Unit
    week_ending: date
    number: int
    deadline: datetime
    cell: Cell
    files: list[dict]  # each with its "problems"
    reports: list[dict]  # accepted revisions, oldest first
    corrections: list[dict]  # {revision, field, before, after}
    messages: list[dict]
    exemption: dict | None


def _files(conn: Connection, campaign: Campaign, code: str, week: date) -> list[dict]:
    from sqlalchemy import select

    from recruitment_month.schema import audit_inbox_file as f
    from recruitment_month.schema import audit_report_problem as p

    rows = conn.execute(select(f).where(f.c.unit_folder == code).order_by(f.c.landed_at)).mappings().all()
    files = []
    for row in rows:
        declared = row["week_ending"]
        attributed = (
            declared if declared and campaign.is_week(declared) else campaign.week_for(row["landed_at"])
        )
        if (attributed or campaign.weeks[-1]) == week:
            files.append(dict(row))
    ids = [f["file_id"] for f in files]
    problems: dict[str, list[dict]] = {i: [] for i in ids}
    if ids:
        query = select(p).where(p.c.file_id.in_(ids)).order_by(p.c.file_id, p.c.seq)
        for row in conn.execute(query).mappings():
            problems[row["file_id"]].append(dict(row))
    for file in files:
        file["problems"] = problems[file["file_id"]]
    return files


def _corrections(reports: list[dict]) -> list[dict]:
    from recruitment_month.reports.fields import COUNT_KEYS, cumulative_key, display_name

    out = []
    keys = [k for key in COUNT_KEYS for k in (key, cumulative_key(key))]
    for before, after in pairwise(reports):
        for key in keys:
            if before[key] != after[key]:
                out.append(
                    {
                        "revision": after["revision"],
                        "field": display_name(key),
                        "before": before[key],
                        "after": after[key],
                    }
                )
    return out


def _messages(conn: Connection, refs: list[str]) -> list[dict]:
    from sqlalchemy import select

    from recruitment_month.schema import audit_notification as n

    columns = [
        n.c[c] for c in ("message_key", "kind", "recipients", "subject", "status", "created_at", "sent_at")
    ]
    query = select(*columns, n.c.last_error).where(n.c.subject_ref.in_(refs)).order_by(n.c.created_at)
    return [dict(row) for row in conn.execute(query).mappings()]


def unit_week(conn: Connection, campaign: Campaign, unit, week: date, now: datetime) -> UnitWeek:
    from sqlalchemy import select

    from recruitment_month.schema import core_report as r

    files = _files(conn, campaign, unit.code, week)
    reports = [
        dict(row)
        for row in conn.execute(
            select(r).where(r.c.unit_code == unit.code, r.c.week_ending == week).order_by(r.c.revision)
        ).mappings()
    ]
    exemption = exemptions(conn, campaign, week).get((unit.code, week))
    evidence = st.Evidence(
        first_accepted_at=min((x["landed_at"] for x in reports), default=None),
        revisions=len(reports),
        rejected=any(f["status"] == "rejected" for f in files),
        exempt=exemption is not None,
        deadline=campaign.deadline(week),
        now=now,
    )
    refs = [f["file_id"] for f in files] + [f"{week}/{unit.code}"]
    return UnitWeek(
        unit=unit,
        week_ending=week,
        number=campaign.week_number(week),
        deadline=campaign.deadline(week),
        cell=Cell(unit.code, week, st.status(evidence), st.corrected(evidence)),
        files=files,
        reports=reports,
        corrections=_corrections(reports),
        messages=_messages(conn, refs),
        exemption=exemption,
    )


UNSENT = ("pending", "sending", "failed", "undeliverable")


def outbox(conn: Connection) -> list[dict]:
    """Every message not sent yet (pending, being sent, failed, refused for good), oldest first."""
    from sqlalchemy import select

    from recruitment_month.schema import audit_notification as n

    columns = [n.c[c] for c in ("message_key", "kind", "subject_ref", "recipients", "subject", "status")]
    query = (
        select(*columns, n.c.attempts, n.c.last_error, n.c.created_at, n.c.owner, n.c.channel)
        .where(n.c.status.in_(UNSENT))
        .order_by(n.c.created_at, n.c.message_key)
    )
    return [dict(row) for row in conn.execute(query).mappings()]


def actions(conn: Connection, limit: int = 50) -> list[dict]:
    """The latest changes made in the control room."""
    from sqlalchemy import select

    from recruitment_month.schema import audit_control_action as a

    query = select(a).order_by(a.c.action_id.desc()).limit(limit)
    return [dict(row) for row in conn.execute(query).mappings()]

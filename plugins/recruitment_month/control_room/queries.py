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


def summary_versions(conn: Connection) -> list[dict]:
    """Every version of every week's summary, newest week and version first, with the email that
    carried it (when one did: revisions are mailed as a daily digest) and who signed it off (when the
    warehouse records sign-off)."""
    from sqlalchemy import select

    from recruitment_month.schema import audit_notification as n
    from recruitment_month.schema import mart_weekly_summary as m
    from recruitment_month.summary.render import version_key

    signed = m.c.get("signed_off_by")
    counts = [m.c[c] for c in ("reported", "on_time", "late", "missing", "rejected", "reporting_rate")]
    query = select(m.c.week_ending, m.c.version, m.c.kind, m.c.as_of, m.c.created_at, *counts, m.c.payload)
    if signed is not None:
        query = query.add_columns(signed)
    rows = [
        dict(r) for r in conn.execute(query.order_by(m.c.week_ending.desc(), m.c.version.desc())).mappings()
    ]
    mails = {
        key: (status, sent_at)
        for key, status, sent_at in conn.execute(
            select(n.c.message_key, n.c.status, n.c.sent_at).where(n.c.kind == "weekly_summary")
        )
    }
    for row in rows:
        payload = row.pop("payload") or {}
        row["changes"] = list(payload.get("changes") or [])
        row["exempt"] = sum(1 for u in payload.get("units", []) if u.get("status") == "exempt")
        row.setdefault("signed_off_by", None)
        row["mail_key"] = version_key(row["week_ending"].isoformat(), row["version"])
        row["mail_status"], row["mail_sent_at"] = mails.get(row["mail_key"], (None, None))
    return rows


def summary_mail(conn: Connection, week: date, version: int):
    """The summary email of a version as it was sent (the outbox keeps the whole message), or None."""
    from email import message_from_bytes, policy

    from sqlalchemy import select

    from recruitment_month.schema import audit_notification as n
    from recruitment_month.summary.render import version_key

    body = conn.execute(
        select(n.c.body).where(n.c.message_key == version_key(week.isoformat(), version))
    ).scalar_one_or_none()
    return message_from_bytes(body, policy=policy.default) if body else None


def mail_html(message) -> str:
    """The HTML body of a stored email with its ``cid:`` images inlined, for a browser."""
    import base64

    html = message.get_body(preferencelist=("html",)).get_content()
    for part in message.walk():
        cid = (part.get("Content-ID") or "").strip("<>")
        if cid and part.get_content_maintype() == "image":
            data = base64.b64encode(part.get_payload(decode=True)).decode("ascii")
            html = html.replace(f"cid:{cid}", f"data:{part.get_content_type()};base64,{data}")
    return html


def mail_workbook(message) -> tuple[str, bytes] | None:
    for part in message.iter_attachments():
        if (part.get_filename() or "").endswith(".xlsx"):
            return part.get_filename(), part.get_payload(decode=True)
    return None


FEED_COUNTS = ("received", "new", "updated", "quarantined")


@dataclass(frozen=True)
class FeedHealth:
    code: str
    name: str
    last_load: dict | None  # the latest successful load: interval_start, interval_end, finished_at
    last_day: dict[str, int]  # the loads of the day up to the latest one's window end, summed
    duplicate_rate: float
    quarantine: int  # quarantined items ever
    stalled: bool


def _feed_loads(conn: Connection) -> dict[str, list[dict]]:
    from sqlalchemy import select

    from recruitment_month.schema import audit_load as a

    query = (
        select(a.c.subject, a.c.interval_start, a.c.interval_end, a.c.finished_at, a.c.counts)
        .where(a.c.dag_id == "job_feeds", a.c.task_id == "load")
        .order_by(a.c.interval_end.desc())
    )
    loads: dict[str, list[dict]] = {}
    for row in conn.execute(query).mappings():
        loads.setdefault(row["subject"], []).append(dict(row))
    return loads


def feeds(conn: Connection, platforms: list, now: datetime) -> list[FeedHealth]:
    """Per platform: its last successful load and window, the counts of its last day of loads, the
    share of its postings also on another platform, and whether it has stalled (no successful load
    for longer than its ``limits.stalled_after_hours``)."""
    from datetime import timedelta

    from sqlalchemy import func, select, text

    from recruitment_month import warehouse
    from recruitment_month.schema import audit_feed_quarantine as q

    loads = _feed_loads(conn)
    rates = {r["platform_code"]: r for r in conn.execute(text(warehouse.sql("duplicate_rate"))).mappings()}
    quarantined = dict(
        conn.execute(select(q.c.platform_code, func.count()).group_by(q.c.platform_code)).all()
    )
    out = []
    for platform in platforms:
        mine = loads.get(platform.code, [])
        last = mine[0] if mine else None
        day = [x for x in mine if last and x["interval_end"] > last["interval_end"] - timedelta(days=1)]
        rate = rates.get(platform.code)
        stale_after = timedelta(hours=platform.limits.stalled_after_hours)
        out.append(
            FeedHealth(
                code=platform.code,
                name=platform.name,
                last_load=last,
                last_day={k: sum(int(x["counts"].get(k, 0)) for x in day) for k in FEED_COUNTS},
                duplicate_rate=int(rate["duplicates"] or 0) / int(rate["postings"])
                if rate and rate["postings"]
                else 0.0,
                quarantine=int(quarantined.get(platform.code, 0)),
                stalled=last is None or now - last["finished_at"] > stale_after,
            )
        )
    return out


def quarantine(conn: Connection, platform_code: str, limit: int = 200) -> tuple[dict[str, int], list[dict]]:
    """A platform's quarantined feed items: the count per reason, and the latest ones."""
    from sqlalchemy import func, select

    from recruitment_month.schema import audit_feed_quarantine as q

    mine = q.c.platform_code == platform_code
    reasons = dict(
        conn.execute(
            select(q.c.rule, func.count()).where(mine).group_by(q.c.rule).order_by(func.count().desc())
        ).all()
    )
    columns = (q.c.load_id, q.c.seq, q.c.posting_id, q.c.rule, q.c.field, q.c.message)
    rows = conn.execute(
        select(*columns).where(mine).order_by(q.c.load_id.desc(), q.c.seq).limit(limit)
    ).mappings()
    return reasons, [dict(r) for r in rows]

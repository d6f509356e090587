"""friday_consolidation's steps: consolidate (preliminary and revised versions into the mart), digest, email.

``consolidate(engine, moment)`` looks at every campaign week whose deadline has passed at ``moment``:
a week without a summary gets its preliminary one (computed as of the deadline); a week with one is
recomputed as of ``moment`` and, when its fingerprint differs from the last version's, gets a revised
version listing what changed. Nothing changes → nothing is written and nothing is sent, so the task
can run at every report Asset event and be cleared at will.

The preliminary version and its email are one transaction: the email is written to the outbox together
with the version and a record of the mailing (``mart_summary_mailing``). A revised version is stored
alone: ``digest(engine, moment)`` mails, from the campaign's ``revision_digest_at`` each day, one email
per week whose latest version (stored by then) is newer than the one last mailed, holding that version
and what changed since (``summary/digest.py``), keyed by the week and the day, with its record, in one
transaction. When the campaign requires sign-off the email is written *held* and waits for it
(``summary/signoff.py``). ``deliver`` sends whatever the outbox holds, so an email decided while the mail
server was down goes out with the next run that reaches it.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING

from recruitment_month.reports.fields import COUNT_KEYS, cumulative_key

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    from recruitment_month.config import Campaign
    from recruitment_month.summary.model import WeeklySummary

log = logging.getLogger(__name__)

OWNER = "friday_consolidation"  # the DAG whose runs deliver the summaries


def _last_version(conn: Connection, campaign_code: str, week: date) -> dict | None:
    from sqlalchemy import select

    from recruitment_month.schema import mart_weekly_summary as m

    return (
        conn.execute(
            select(m)
            .where(m.c.campaign_code == campaign_code, m.c.week_ending == week)
            .order_by(m.c.version.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )


def _store(conn: Connection, campaign_code: str, summary: WeeklySummary, kind: str) -> None:
    from recruitment_month import schema
    from recruitment_month.summary import compute

    key = {"campaign_code": campaign_code, "week_ending": summary.week_ending, "version": summary.version}
    conn.execute(
        schema.mart_weekly_summary.insert(),
        {
            **key,
            "kind": kind,
            "as_of": summary.generated_at,
            "fingerprint": compute.fingerprint(summary),
            "expected": summary.expected,
            "reported": summary.reported,
            "on_time": summary.on_time,
            "late": summary.late,
            "missing": summary.missing,
            "rejected": summary.rejected,
            "reporting_rate": summary.reporting_rate,
            "on_time_rate": summary.on_time_rate,
            "payload": compute.payload(summary),
            "created_at": datetime.now(UTC),
        },
    )
    conn.execute(
        schema.mart_summary_unit.insert(),
        [
            {
                **key,
                "unit_code": u.code,
                "status": u.status,
                "landed_at": u.landed_at,
                "revision": u.revision,
                "warnings": u.warnings,
                **{k: u.week.get(k) for k in COUNT_KEYS},
                **{cumulative_key(k): u.cumulative.get(k) for k in COUNT_KEYS},
            }
            for u in summary.units
        ],
    )
    conn.execute(
        schema.mart_summary_national.insert(),
        [
            {
                **key,
                "measure": k,
                "week_value": summary.national_week[k],
                "cumulative_value": summary.national_cumulative[k],
                "previous_week_value": summary.previous_week[k] if summary.previous_week else None,
            }
            for k in COUNT_KEYS
        ],
    )


def consolidate(engine: Engine, moment: datetime) -> list[dict]:
    """Write the versions due at ``moment``; returns [{week_ending, version, kind}] of the new ones."""
    from dataclasses import replace

    from recruitment_month import config
    from recruitment_month.summary import compute

    campaign = config.campaign()
    created = []
    for week in campaign.weeks:
        deadline = campaign.deadline(week)
        if deadline > moment:
            break
        with engine.begin() as conn:
            last = _last_version(conn, campaign.code, week)
            if last is None:
                summary = compute.compute(conn, week, deadline, version=1)
                kind = "preliminary"
            else:
                summary = compute.compute(conn, week, moment, version=last["version"] + 1)
                if compute.fingerprint(summary) == last["fingerprint"]:
                    continue
                summary = replace(summary, changes=compute.changes(last["payload"], summary))
                kind = "revised"
            _store(conn, campaign.code, summary, kind)
            if kind == "preliminary":
                _mail(conn, campaign, summary, {"kind": kind})
        log.info(
            "Week %s: %s summary v%d — %d/%d reported (%d on time), %d changes",
            week,
            kind,
            summary.version,
            summary.reported,
            summary.expected,
            summary.on_time,
            len(summary.changes),
        )
        created.append({"week_ending": week.isoformat(), "version": summary.version, "kind": kind})
    return created


def _mail(conn: Connection, campaign: Campaign, summary: WeeklySummary, record: dict) -> None:
    """Enqueue ``summary``'s email (held when the campaign requires sign-off) and record the mailing,
    in the caller's transaction. ``record``: kind, and for a digest its key, day and base version."""
    from recruitment_month import notifications, schema
    from recruitment_month.summary.digest import Mailing
    from recruitment_month.summary.render import message_key, render_summary

    mailing = record.get("mailing") or Mailing(key=message_key(summary))
    required = campaign.sign_off.required
    notifications.enqueue(conn, [render_summary(summary, mailing=mailing)], owner=OWNER, held=required)
    conn.execute(
        schema.mart_summary_mailing.insert(),
        {
            "message_key": mailing.key,
            "campaign_code": campaign.code,
            "week_ending": summary.week_ending,
            "version": summary.version,
            "kind": record["kind"],
            "digest_date": record.get("digest_date"),
            "base_version": mailing.digest.since if mailing.digest else None,
            "created_at": datetime.now(UTC),
            "sign_off": "waiting" if required else "not_required",
        },
    )


RELEASED = ("not_required", "approved", "sent_without_sign_off")


def _mailed(conn: Connection, campaign_code: str, week: date) -> tuple[int | None, int | None]:
    """The newest version of the week with a mailing of any outcome, and the newest one that went out."""
    from sqlalchemy import func, select

    from recruitment_month.schema import mart_summary_mailing as t

    week_rows = (t.c.campaign_code == campaign_code, t.c.week_ending == week)
    newest = conn.execute(select(func.max(t.c.version)).where(*week_rows)).scalar()
    sent = conn.execute(select(func.max(t.c.version)).where(*week_rows, t.c.sign_off.in_(RELEASED))).scalar()
    return newest, sent


def _stored(conn: Connection, campaign_code: str, week: date, version: int | None = None, until=None):
    """A stored version's (version, payload): ``version``, or the newest stored by ``until``."""
    from sqlalchemy import select

    from recruitment_month.schema import mart_weekly_summary as m

    query = select(m.c.version, m.c.payload).where(
        m.c.campaign_code == campaign_code, m.c.week_ending == week
    )
    if version is not None:
        query = query.where(m.c.version == version)
    if until is not None:
        query = query.where(m.c.as_of <= until)
    return conn.execute(query.order_by(m.c.version.desc()).limit(1)).first()


def _digest_week(conn: Connection, campaign: Campaign, week: date, day: date) -> dict | None:
    """Enqueue the week's digest of ``day`` if one is due; returns what was mailed, or None."""
    from dataclasses import replace

    from sqlalchemy import select

    from recruitment_month.schema import mart_summary_mailing as t
    from recruitment_month.summary import digest
    from recruitment_month.summary.compute import from_payload

    hour, minute = (int(x) for x in campaign.revision_digest_at.split(":"))
    latest = _stored(conn, campaign.code, week, until=datetime.combine(day, time(hour, minute), campaign.tz))
    newest, sent = _mailed(conn, campaign.code, week)
    if latest is None or newest is None or latest.version <= newest:
        return None  # nothing stored since the last mailing (or the preliminary has not been mailed)
    key = digest.digest_key(week.isoformat(), day.isoformat())
    if conn.execute(select(t.c.message_key).where(t.c.message_key == key)).first():
        return None  # this day's digest went already: the newer version waits for tomorrow's
    base = _stored(conn, campaign.code, week, version=sent or newest)
    mailing = digest.Mailing(key=key, digest=digest.compare(base.payload, latest.payload))
    summary = replace(from_payload(latest.payload), changes=[])
    _mail(conn, campaign, summary, {"kind": "digest", "digest_date": day, "mailing": mailing})
    return {"week_ending": week.isoformat(), "version": latest.version, "since": base.version, "key": key}


def digest(engine: Engine, moment: datetime) -> list[dict]:
    """Enqueue the revision digests due at ``moment``: for the latest day whose ``revision_digest_at``
    has passed, one per closed week whose newest version stored by then is newer than the one last
    mailed. Rerun, or run again the same day: nothing new. Returns [{week_ending, version, since, key}]."""
    from recruitment_month import config

    campaign = config.campaign()
    day = campaign.digest_day(moment)
    mailed = []
    for week in campaign.weeks:
        if campaign.deadline(week) > moment:
            break
        with engine.begin() as conn:
            done = _digest_week(conn, campaign, week, day)
        if done:
            log.info(
                "Week %s: digest of %s holds v%d (changes since v%d)",
                week,
                day,
                done["version"],
                done["since"],
            )
            mailed.append(done)
    return mailed


def load_summary(engine: Engine, week: date, version: int) -> WeeklySummary:
    """A stored version, as the summary object the email renders."""
    from sqlalchemy import select

    from recruitment_month import config
    from recruitment_month.schema import mart_weekly_summary as m
    from recruitment_month.summary.compute import from_payload

    with engine.connect() as conn:
        data = conn.execute(
            select(m.c.payload).where(
                m.c.campaign_code == config.campaign().code, m.c.week_ending == week, m.c.version == version
            )
        ).scalar_one()
    return from_payload(data)


def deliver(engine: Engine) -> dict[str, int]:
    """Send what the outbox holds for this DAG (and the alerts), oldest first; a summary held for
    sign-off waits for it. A week whose versions were stored with no mailing at all (before the
    outbox existed) gets its preliminary email first."""
    from sqlalchemy import select

    from recruitment_month import config, notifications
    from recruitment_month.schema import mart_summary_mailing as t

    campaign = config.campaign()
    with engine.connect() as conn:
        mailed = set(
            conn.execute(select(t.c.week_ending).where(t.c.campaign_code == campaign.code)).scalars()
        )
    for v in all_versions(engine):
        week = date.fromisoformat(v["week_ending"])
        if v["version"] == 1 and week not in mailed:
            summary = load_summary(engine, week, 1)
            with engine.begin() as conn:
                _mail(conn, campaign, summary, {"kind": "preliminary"})
    return notifications.deliver(engine, [OWNER, notifications.ALERTS])


def all_versions(engine: Engine) -> list[dict]:
    from sqlalchemy import select

    from recruitment_month import config
    from recruitment_month.schema import mart_weekly_summary as m

    with engine.connect() as conn:
        rows = conn.execute(
            select(m.c.week_ending, m.c.version, m.c.kind)
            .where(m.c.campaign_code == config.campaign().code)
            .order_by(m.c.week_ending, m.c.version)
        ).all()
    return [{"week_ending": w.isoformat(), "version": v, "kind": k} for w, v, k in rows]

"""friday_consolidation's steps: consolidate (preliminary and revised versions into the mart), email.

``consolidate(engine, moment)`` looks at every campaign week whose deadline has passed at ``moment``:
a week without a summary gets its preliminary one (computed as of the deadline); a week with one is
recomputed as of ``moment`` and, when its fingerprint differs from the last version's, gets a revised
version listing what changed. Nothing changes → nothing is written and nothing is sent, so the task
can run at every report Asset event and be cleared at will.

A version and its email are one transaction: the email is written to the outbox as *pending* together
with the version, and ``deliver`` sends whatever the outbox holds, so a version stored while the mail
server was down goes out with the next run that reaches it.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from recruitment_month.reports.fields import COUNT_KEYS, cumulative_key

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

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

    from recruitment_month import config, notifications
    from recruitment_month.summary import compute
    from recruitment_month.summary.render import render_summary

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
            notifications.enqueue(conn, [render_summary(summary)], owner=OWNER)
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
    """Send what the outbox holds for this DAG (and the alerts), oldest first. A stored version whose
    email is not in the outbox at all (stored before the outbox existed) is rendered and added first."""
    from sqlalchemy import select

    from recruitment_month import notifications
    from recruitment_month.schema import audit_notification as t
    from recruitment_month.summary.render import render_summary, version_key

    with engine.connect() as conn:
        known = set(conn.execute(select(t.c.message_key).where(t.c.kind == "weekly_summary")).scalars())
    for v in all_versions(engine):
        if version_key(v["week_ending"], v["version"]) not in known:
            summary = load_summary(engine, date.fromisoformat(v["week_ending"]), v["version"])
            with engine.begin() as conn:
                notifications.enqueue(conn, [render_summary(summary)], owner=OWNER)
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

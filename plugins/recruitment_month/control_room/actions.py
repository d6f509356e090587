"""What the control room changes: exemptions and resends. Each change and its audit record are written
in one transaction, with who made it; a message goes out only through the outbox."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)

# The outbox owner of a resent message: the control room delivers it at once, alone.
OWNER = "control_room"


class Refused(ValueError):
    """The change cannot be made as asked (unknown unit or week, nothing to resend)."""


@dataclass(frozen=True)
class Actor:
    name: str
    reason: str | None = None


def _audit(conn: Connection, action: str, subject: str, actor: Actor, detail: dict) -> None:
    from recruitment_month.schema import audit_control_action as a

    conn.execute(
        a.insert().values(
            action=action,
            subject=subject,
            actor=actor.name,
            acted_at=datetime.now(UTC),
            reason=actor.reason,
            detail=detail,
        )
    )


def _check_unit_week(unit_code: str, week: date):
    from recruitment_month import config

    campaign = config.campaign()
    if unit_code not in config.units().by_code():
        raise Refused(f"unknown unit {unit_code!r}")
    if not campaign.is_week(week):
        raise Refused(f"{week} is not a reporting week of the campaign")
    return campaign


def exempt(engine: Engine, unit_code: str, week: date, actor: Actor) -> bool:
    """Excuse the unit from reporting for the week; False when it already was (nothing changes)."""
    from recruitment_month import warehouse
    from recruitment_month.schema import core_unit_exemption as x

    campaign = _check_unit_week(unit_code, week)
    if not (actor.reason or "").strip():
        raise Refused("an exemption needs a reason")
    row = {
        "campaign_code": campaign.code,
        "week_ending": week,
        "unit_code": unit_code,
        "reason": actor.reason.strip(),
        "granted_by": actor.name,
        "granted_at": datetime.now(UTC),
    }
    with engine.begin() as conn:
        before = conn.execute(
            x.select().where(
                x.c.campaign_code == campaign.code, x.c.week_ending == week, x.c.unit_code == unit_code
            )
        ).first()
        if before is not None:
            return False
        warehouse.insert_ignore(conn, x, [row], ["campaign_code", "week_ending", "unit_code"])
        _audit(conn, "exempt", f"{week}/{unit_code}", actor, {"campaign": campaign.code})
    log.info("%s exempted %s for the week ending %s: %s", actor.name, unit_code, week, actor.reason)
    return True


def lift_exemption(engine: Engine, unit_code: str, week: date, actor: Actor) -> bool:
    """Withdraw an exemption; False when there was none."""
    from recruitment_month.schema import core_unit_exemption as x

    campaign = _check_unit_week(unit_code, week)
    with engine.begin() as conn:
        gone = conn.execute(
            x.delete().where(
                x.c.campaign_code == campaign.code, x.c.week_ending == week, x.c.unit_code == unit_code
            )
        ).rowcount
        if gone:
            _audit(conn, "lift_exemption", f"{week}/{unit_code}", actor, {"campaign": campaign.code})
    return bool(gone)


def resend(engine: Engine, message_key: str, actor: Actor) -> dict:
    """Send one message of the outbox now: it must be pending, failed or refused (never one already
    sent). The message is queued again under the control room and delivered alone; the outcome of
    the attempt is returned (and stays on the message's row)."""
    from sqlalchemy import select, update

    from recruitment_month import notifications
    from recruitment_month.schema import audit_notification as n

    with engine.begin() as conn:
        row = conn.execute(
            select(n.c.status, n.c.owner, n.c.last_error, n.c.attempts).where(n.c.message_key == message_key)
        ).first()
        if row is None:
            raise Refused(f"no message {message_key!r} in the outbox")
        queued = conn.execute(
            update(n)
            .where(n.c.message_key == message_key, n.c.status.in_(("pending", "failed", "undeliverable")))
            .values(status="pending", owner=OWNER, claimed_at=None)
        ).rowcount
        if not queued:
            raise Refused(
                f"{message_key} is {row.status}: only a pending, failed or refused message is resent"
            )
        detail = {
            "status": row.status,
            "owner": row.owner,
            "last_error": row.last_error,
            "attempts": row.attempts,
        }
        _audit(conn, "resend", message_key, actor, detail)
    try:
        counts = notifications.deliver(engine, [OWNER])
    except notifications.DeliveryError as exc:
        log.warning("Resending %s: %s", message_key, exc)
    else:
        log.info("Resent %s for %s: %s", message_key, actor.name, counts)
    with engine.connect() as conn:
        after = conn.execute(select(n.c.status, n.c.last_error).where(n.c.message_key == message_key)).one()
    return {"message_key": message_key, "status": after.status, "error": after.last_error}

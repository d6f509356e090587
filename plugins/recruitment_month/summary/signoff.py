"""Sign-off of the ministry's summary emails: what the reviewers are asked, and what their answer does.

When the campaign's ``sign_off.required`` is true, every summary email (the preliminary version, a
revision digest) is written to the outbox *held*, with a ``mart_summary_mailing`` row *waiting*.
friday_consolidation then asks the reviewers through Airflow's human-in-the-loop request:
:func:`request` builds its subject and body (the headline figures and a link to each rendered email)
for every mailing waiting, and :func:`apply` acts on the answer for exactly those mailings:

* *Approve* (a reviewer answered): the emails are released and go out with this run's delivery; the
  reviewer and the time are recorded on the mailing.
* *Reject*: the emails stay held, the reviewer's comment is recorded and the data engineers alerted.
* No answer by the timeout (the request's default option, answered by nobody): the campaign's
  ``on_timeout`` decides — ``send_with_note`` re-renders each email with a visible sentence that it went
  out without sign-off and releases it; ``hold`` keeps it and alerts the data engineers.
* No answer at all (the request failed or was skipped): held, and the data engineers alerted.

A held email is never lost: it stays in the outbox, and the next run asks again for whatever is still
*waiting*. Released or not, nothing is sent twice: release only turns *held* rows pending.

Pure module: no Airflow import (the HITL operator is in ``recruitment_month.approval``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)

APPROVE = "Approve"
REJECT = "Reject"


@dataclass(frozen=True)
class Answer:
    """The human-in-the-loop response, as the operator returns it (None fields: nobody answered)."""

    chosen: str | None
    user: dict | None  # {"id", "name"} of the reviewer; None when the timeout default was taken
    at: datetime | None
    comment: str | None = None

    @classmethod
    def from_response(cls, response: dict | None) -> Answer:
        if not response:
            return cls(None, None, None)
        chosen = (response.get("chosen_options") or [None])[0]
        at = response.get("responded_at")
        if isinstance(at, str):
            at = datetime.fromisoformat(at)
        comment = (response.get("params_input") or {}).get("comment") or None
        return cls(chosen, response.get("responded_by_user"), at, comment)

    @property
    def reviewer(self) -> str | None:
        if not self.user:
            return None
        name, uid = self.user.get("name"), self.user.get("id")
        return name if name == uid else f"{name} ({uid})"


def waiting(conn: Connection) -> list[dict]:
    """Every mailing of this campaign waiting for sign-off, oldest first, with its headline figures."""
    from sqlalchemy import select

    from recruitment_month import config
    from recruitment_month.schema import mart_summary_mailing as t
    from recruitment_month.schema import mart_weekly_summary as m

    join = t.join(
        m,
        (m.c.campaign_code == t.c.campaign_code)
        & (m.c.week_ending == t.c.week_ending)
        & (m.c.version == t.c.version),
    )
    rows = conn.execute(
        select(t.c.message_key, t.c.kind, t.c.week_ending, t.c.version, t.c.digest_date, m)
        .select_from(join)
        .where(t.c.campaign_code == config.campaign().code, t.c.sign_off == "waiting")
        .order_by(t.c.created_at, t.c.message_key)
    )
    return [dict(r) for r in rows.mappings()]


def _line(row: dict, url: str) -> str:
    from recruitment_month.summary.content import fmt_int

    week = row["payload"]["national_week"]
    what = (
        "初步" if row["kind"] == "preliminary" else f"{row['digest_date']} 修订汇总（第{row['version']}版）"
    )
    return (
        f"- **第{row['payload']['week_number']}周（截至{row['week_ending']}）{what}**：已报送 "
        f"{row['reported']}/{row['expected']}，报送率 {row['reporting_rate'] * 100:.1f}%，按时率 "
        f"{row['on_time_rate'] * 100:.1f}%；本周提供岗位 {fmt_int(week.get('positions'))} 个，参与毕业生 "
        f"{fmt_int(week.get('graduates'))} 人次。[查看邮件]({url})"
    )


def request(engine: Engine, base_url: str) -> dict | None:
    """What to ask the reviewers about the mailings waiting: {keys, subject, body}; None if none wait.
    ``base_url`` is the Airflow API server's, for the campaign's ``review_url`` pattern."""
    from recruitment_month import config

    campaign = config.campaign()
    with engine.connect() as conn:
        rows = waiting(conn)
    if not rows:
        return None
    pattern = campaign.sign_off.review_url
    lines = [
        _line(r, pattern.format(base=base_url.rstrip("/"), week=r["week_ending"], version=r["version"]))
        for r in rows
    ]
    minutes = max(1, int(campaign.sign_off.timeout.total_seconds() // 60))
    timeout = f"{minutes // 60}小时" if minutes % 60 == 0 else f"{minutes}分钟"
    policy = "先行发送并注明未经签发" if campaign.sign_off.on_timeout == "send_with_note" else "暂不发送"
    body = "\n".join(
        [
            f"以下全国周报邮件待签发后发送给{', '.join(campaign.recipients.summary)}：",
            "",
            *lines,
            "",
            f"选择 **{APPROVE}** 即发送；选择 **{REJECT}** 并填写意见则暂不发送，数据组将收到通知。",
            f"{timeout} 内无人审核：{policy}。",
        ]
    )
    return {
        "keys": [r["message_key"] for r in rows],
        "subject": f"{campaign.name}：全国周报待签发",
        "body": body,
    }


def _record(conn: Connection, keys: list[str], answer: Answer, outcome: str) -> None:
    from sqlalchemy import update

    from recruitment_month.schema import mart_summary_mailing as t

    conn.execute(
        update(t)
        .where(t.c.message_key.in_(keys), t.c.sign_off == "waiting")
        .values(
            sign_off=outcome,
            signed_off_by=answer.reviewer,
            signed_off_at=answer.at or datetime.now(UTC),
            sign_off_comment=answer.comment,
        )
    )


def _with_note(conn: Connection, keys: list[str]) -> list:
    """Each held email re-rendered with the sentence that it went out without sign-off."""
    from dataclasses import replace

    from sqlalchemy import select

    from recruitment_month.schema import mart_summary_mailing as t
    from recruitment_month.schema import mart_weekly_summary as m
    from recruitment_month.summary import digest
    from recruitment_month.summary.compute import from_payload
    from recruitment_month.summary.render import render_summary

    mails = []
    for row in conn.execute(select(t).where(t.c.message_key.in_(keys))).mappings():

        def payload(version, row=row):
            return conn.execute(
                select(m.c.payload).where(
                    m.c.campaign_code == row["campaign_code"],
                    m.c.week_ending == row["week_ending"],
                    m.c.version == version,
                )
            ).scalar_one()

        after = payload(row["version"])
        changes = digest.compare(payload(row["base_version"]), after) if row["base_version"] else None
        summary = from_payload(after)
        if changes is not None:
            summary = replace(summary, changes=[])
        mailing = digest.Mailing(key=row["message_key"], digest=changes, note=digest.UNSIGNED_NOTE)
        mails.append(render_summary(summary, mailing=mailing))
    return mails


def _alert(conn: Connection, keys: list[str], answer: Answer, why: str) -> None:
    from recruitment_month import alerts

    text = "\n".join(
        [
            why,
            "",
            *[f"- {k}" for k in keys],
            "",
            f"Reviewer: {answer.reviewer or '(nobody)'}; comment: {answer.comment or '(none)'}",
            "They stay held in audit_notification (status 'held'); mart_summary_mailing records the decision.",
            "To send one after all, set its audit_notification status to 'pending' and clear email_summaries.",
        ]
    )
    stamp = (answer.at or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S")
    alerts.raise_alert(
        conn,
        alerts.Alert(
            key=f"sign_off/{keys[0]}/{stamp}",
            subject_ref=keys[0],
            title="全国周报未发送（签发）",
            text=text,
            kind="sign_off",
        ),
    )


def apply(engine: Engine, keys: list[str], response: dict | None) -> dict:
    """Act on the reviewers' answer (``response``: the HITL operator's result, None when it has none)
    for the mailings ``keys``; returns {outcome, keys}. Mailings no longer waiting are left alone."""
    from recruitment_month import config, notifications

    answer = Answer.from_response(response)
    policy = config.campaign().sign_off.on_timeout
    with engine.begin() as conn:
        keys = [r["message_key"] for r in waiting(conn) if r["message_key"] in set(keys)]
        if not keys:
            return {"outcome": None, "keys": []}
        if answer.chosen == APPROVE and answer.user:
            outcome = "approved"
            notifications.release(conn, keys)
        elif answer.chosen is not None and answer.user is None and policy == "send_with_note":
            outcome = "sent_without_sign_off"
            notifications.release(conn, keys, rewritten=_with_note(conn, keys))
        elif answer.chosen == REJECT and answer.user:
            outcome = "rejected"
            _alert(conn, keys, answer, "The reviewer rejected these summary emails; they are not sent.")
        else:
            outcome = "held_without_sign_off"
            _alert(
                conn, keys, answer, "No reviewer signed off these summary emails in time; they are not sent."
            )
        _record(conn, keys, answer, outcome)
    log.info("Sign-off of %s: %s (%s)", ", ".join(keys), outcome, answer.reviewer or "no reviewer")
    return {"outcome": outcome, "keys": keys}

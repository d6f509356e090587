"""Alerts to the data engineers: every DAG's ``on_failure_callback``, and the pipeline's own findings.

An alert goes out twice: by email (``campaign.recipients.data_engineers``) and, when the connection
``dingding_default`` exists, to the engineers' DingTalk group, because the mail server may be what
failed. Both are written to the outbox under keys of their own, so a callback that runs twice sends
once and an alert that could not go out now goes out with any later delivery. If the warehouse itself
is what failed, the alert is sent straight away, without the outbox.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from recruitment_month.notifications import Chat, Mail

log = logging.getLogger(__name__)

SUBJECT_PREFIX = "[校园招聘月数据平台]"


def messages(key: str, subject_ref: str, title: str, text: str, kind: str = "pipeline_alert") -> list:
    """The email, and the chat message when the chat channel is configured, of one alert."""
    from recruitment_month import config
    from recruitment_month.notifications import Chat, Mail, chat_configured
    from recruitment_month.text import one_line

    title = one_line(title, limit=200)
    out: list[Mail | Chat] = [
        Mail(
            key=f"{key}/email",
            kind=kind,
            subject_ref=subject_ref,
            recipients=list(config.campaign().recipients.data_engineers),
            subject=f"{SUBJECT_PREFIX} {title}",
            text=text,
        )
    ]
    if chat_configured():
        out.append(
            Chat(
                key=f"{key}/chat",
                kind=kind,
                subject_ref=subject_ref,
                title=f"{SUBJECT_PREFIX} {title}",
                text=f"### {SUBJECT_PREFIX} {title}\n\n" + text.replace("\n", "\n\n"),
            )
        )
    return out


@dataclass(frozen=True)
class Alert:
    """One of the pipeline's findings for the data engineers: ``key`` makes it once-only, ``subject_ref``
    names what it is about, ``kind`` files it in the outbox."""

    key: str
    subject_ref: str
    title: str
    text: str
    kind: str


def raise_alert(conn: Connection, alert: Alert) -> None:
    """Write an alert to the outbox in the caller's transaction (the decision it reports and the alert
    are committed together); the next delivery of any DAG sends it."""
    from recruitment_month.notifications import ALERTS, enqueue

    outgoing = messages(f"alert/{alert.key}", alert.subject_ref, alert.title, alert.text, alert.kind)
    enqueue(conn, outgoing, owner=ALERTS)


def _failure(context) -> tuple[str, str, str, str]:
    ti = context.get("ti") or context.get("task_instance")
    dag_id = getattr(ti, "dag_id", None) or context["dag"].dag_id
    task_id = getattr(ti, "task_id", "?")
    run_id = context.get("run_id") or getattr(ti, "run_id", "?")
    try_number = getattr(ti, "try_number", 1)
    map_index = getattr(ti, "map_index", -1)
    exception = context.get("exception")
    log_url = getattr(ti, "log_url", "") or ""
    label = task_id if map_index in (None, -1) else f"{task_id}[{map_index}]"
    text = "\n".join(
        [
            f"DAG {dag_id}, task {label} failed (try {try_number}).",
            f"Run: {run_id}",
            f"Error: {exception!r}",
            f"Log: {log_url}",
            "",
            "What to check is in the DAG's docs in the Airflow UI (the DAG page, 'Docs').",
        ]
    )
    return (
        f"alert/{dag_id}/{run_id}/{label}/{try_number}",
        f"{dag_id}/{label}",
        f"任务失败 Task failed: {dag_id}.{label}",
        text,
    )


def on_failure(context) -> None:
    """Alert the data engineers about a failed task, by email and chat."""
    from recruitment_month import notifications, warehouse

    key, subject_ref, title, text = _failure(context)
    alert = messages(key, subject_ref, title, text)
    try:
        engine = warehouse.engine()
        with engine.begin() as conn:
            notifications.enqueue(conn, alert, owner=notifications.ALERTS)
    except Exception:  # the warehouse may be what failed; the alert must still go out
        log.exception("The outbox is unavailable; sending the alert %s without it", key)
        _send_directly(alert)
        return
    try:
        notifications.deliver(engine, [notifications.ALERTS])
    except notifications.DeliveryError as exc:  # kept in the outbox; any later delivery sends it
        log.error("The alert %s waits in the outbox: %s", key, exc)


def _send_directly(alert: list) -> None:
    """Each channel on its own: a dead mail server does not keep the chat message back."""
    from recruitment_month import config, notifications

    errors = []
    for message in alert:
        try:
            if isinstance(message, notifications.Chat):
                notifications.send_chat(notifications.chat_body(message))
            else:
                with notifications.SmtpClient() as client:
                    client.send(notifications.build(message, client.sender(config.campaign().sender)))
        except Exception as exc:  # try the other channel, then report both
            log.exception("Alert %s could not be sent", message.key)
            errors.append(exc)
    if len(errors) == len(alert):
        raise RuntimeError(f"No channel could carry the alert: {errors}")

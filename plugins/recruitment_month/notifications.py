"""The outbox: every message the project sends, email or chat, through one ledger.

A message is decided somewhere (a report accepted, a summary version stored, a reminder step due, a
task failed) and written whole to ``audit_notification`` as *pending* by :func:`enqueue`, in the same
transaction as that decision and before any connection to a server. :func:`deliver` then sends what is
pending or failed, oldest first: it claims each row (a conditional update that only one delivery can
win), sends it, and marks it *sent*. A message that waits for someone's approval (the national summary
before its sign-off) is written *held*: delivery skips it until :func:`release` makes it pending. A server that is down leaves the rows *failed* with the error,
and the next delivery of any later run sends them, so an outage of any length delays messages and
loses none. A claim older than ``LEASE`` (the process died mid-send) is taken over; the Message-ID is
derived from the key, so even that rare second copy is one mail clients recognise as the same.

Emails go through the Airflow connection ``smtp_default``; chat messages (alerts to the data
engineers, a second channel in case mail is what failed) through ``dingding_default`` when it is
configured. Subjects and bodies are UTF-8; the subject is RFC 2047-encoded by the email package's SMTP
policy; an HTML body always comes with a plain-text part.
"""

from __future__ import annotations

import hashlib
import logging
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)

SMTP_CONN_ID = "smtp_default"
SENDER_NAME = "校园招聘月数据平台"


@dataclass
class Attachment:
    filename: str
    content: bytes
    maintype: str = "application"
    subtype: str = "octet-stream"


@dataclass
class InlineImage:
    cid: str  # referenced in the HTML as src="cid:<cid>"
    content: bytes
    subtype: str = "png"


@dataclass
class Mail:
    key: str  # unique per message: kind/subject_ref/recipient/version
    kind: str
    subject_ref: str
    recipients: list[str]
    subject: str
    text: str
    html: str | None = None
    attachments: list[Attachment] = field(default_factory=list)
    images: list[InlineImage] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)


def message_id(key: str, domain: str = "campus-recruitment.example.org") -> str:
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"


def build(mail: Mail, sender: str, decided_at: datetime | None = None) -> EmailMessage:
    """The MIME message: text, or text + HTML (with inline images), plus attachments. ``Date`` is when
    the message was decided (default: now)."""
    from recruitment_month.text import one_line

    msg = EmailMessage()
    msg["Subject"] = one_line(mail.subject, limit=250)  # a name in a subject never starts a header
    msg["From"] = formataddr((SENDER_NAME, sender))
    msg["To"] = ", ".join(mail.recipients)
    if mail.cc:
        msg["Cc"] = ", ".join(mail.cc)
    msg["Date"] = formatdate(decided_at.timestamp() if decided_at else None, localtime=False)
    msg["Message-ID"] = message_id(mail.key)
    msg["X-Recruitment-Message-Key"] = mail.key
    msg.set_content(mail.text, charset="utf-8")
    if mail.html:
        msg.add_alternative(mail.html, subtype="html", charset="utf-8")
        html_part = msg.get_payload()[-1]
        for image in mail.images:
            html_part.add_related(image.content, "image", image.subtype, cid=f"<{image.cid}>")
    for item in mail.attachments:
        msg.add_attachment(item.content, maintype=item.maintype, subtype=item.subtype, filename=item.filename)
    return msg


class PlaintextLoginRefused(RuntimeError):
    """The SMTP connection asks to log in over an unencrypted connection."""


class SmtpClient:
    """An SMTP session opened from the Airflow connection (host, port, login, password, extras
    ``disable_ssl``, ``disable_tls``, ``timeout``, ``from_email`` as the SMTP provider defines them).

    A password is never sent in clear: with both SSL and STARTTLS disabled, a connection that has a
    login is refused unless its extra ``allow_plaintext_login`` is true (a relay on the same host)."""

    def __init__(self, conn_id: str = SMTP_CONN_ID) -> None:
        from airflow.sdk import BaseHook

        self.conn = BaseHook.get_connection(conn_id)
        extra = self.conn.extra_dejson or {}
        self.use_ssl = not extra.get("disable_ssl", False)
        self.starttls = not extra.get("disable_tls", False)
        self.timeout = int(extra.get("timeout", 30))
        self.from_email = extra.get("from_email")
        self._client: smtplib.SMTP | None = None
        plaintext = not self.use_ssl and not self.starttls
        if plaintext and self.conn.login and not extra.get("allow_plaintext_login", False):
            raise PlaintextLoginRefused(
                f"Connection {conn_id!r} would send its SMTP password without TLS (disable_ssl and "
                "disable_tls are both set). Enable TLS, or set the extra allow_plaintext_login to true "
                "for a relay on a trusted network."
            )

    def __enter__(self) -> SmtpClient:
        host, port = self.conn.host, self.conn.port
        if self.use_ssl:
            self._client = smtplib.SMTP_SSL(host, port or 465, timeout=self.timeout)
        else:
            self._client = smtplib.SMTP(host, port or 25, timeout=self.timeout)
            if self.starttls:
                self._client.starttls(context=ssl.create_default_context())
        if self.conn.login and self.conn.password:
            self._client.login(self.conn.login, self.conn.password)
        return self

    def __exit__(self, *exc) -> None:
        if self._client is not None:
            try:
                self._client.quit()
            except smtplib.SMTPException:
                self._client.close()
            self._client = None

    def send(self, msg: EmailMessage) -> None:
        if self._client is None:
            raise RuntimeError("use SmtpClient as a context manager")
        self._client.send_message(msg)

    def sender(self, default: str) -> str:
        return self.from_email or default


CHAT_CONN_ID = "dingding_default"
ALERTS = "alerts"  # the owner of alerts to the data engineers: every DAG's delivery sends them
LEASE = timedelta(minutes=15)  # a claim older than this was left by a process that died mid-send
CHAT_TIMEOUT_SECONDS = 10


@dataclass
class Chat:
    """A message to the data engineers' chat group (DingTalk custom robot), the second alert channel."""

    key: str
    kind: str
    subject_ref: str
    title: str
    text: str  # markdown


class DeliveryError(RuntimeError):
    """Some messages could not be sent now; they stay in the outbox and go out with a later delivery."""


def chat_configured() -> bool:
    """Whether the chat channel has a connection (``AIRFLOW_CONN_DINGDING_DEFAULT`` or the UI)."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        BaseHook.get_connection(CHAT_CONN_ID)
    except AirflowNotFoundException:
        return False
    return True


def chat_body(message: Chat) -> bytes:
    """The DingTalk markdown message, as stored in the outbox."""
    import json

    return json.dumps({"title": message.title, "text": message.text}, ensure_ascii=False).encode()


def _row(message: Mail | Chat, sender: str, decided_at: datetime, common: dict) -> dict:
    """The outbox row of ``message``; ``common``: what every row of one enqueue shares (owner, status,
    created_at)."""
    from recruitment_month.text import one_line

    if isinstance(message, Chat):
        channel, recipients, subject = "chat", [CHAT_CONN_ID], message.title
        body = chat_body(message)
    else:
        channel, recipients, subject = "email", [*message.recipients, *message.cc], message.subject
        body = build(message, sender, decided_at).as_bytes()
    return {
        "message_key": message.key,
        "kind": message.kind,
        "subject_ref": message.subject_ref[:120],
        "recipients": recipients,
        "subject": one_line(subject, limit=1000),
        "attempts": 0,
        "channel": channel,
        "body": body,
        **common,
    }


def enqueue(conn: Connection, messages: list[Mail | Chat], *, owner: str, held: bool = False) -> int:
    """Write each message whole to the outbox as *pending* (*held* with ``held``: not sent until
    :func:`release`), in the caller's transaction; a key already there (whatever its status) is left
    as it is. Returns how many were new."""
    from sqlalchemy import select

    from recruitment_month import config, warehouse
    from recruitment_month.reports.pipeline import poll_time
    from recruitment_month.schema import audit_notification as t

    if not messages:
        return 0
    keys = [m.key for m in messages]
    seen = set(conn.execute(select(t.c.message_key).where(t.c.message_key.in_(keys))).scalars())
    now = datetime.now(UTC)
    decided_at = poll_time(now)  # the run's time inside a task (a replay's campaign clock), else now
    sender = config.campaign().sender
    common = {"owner": owner, "status": "held" if held else "pending", "created_at": now}
    rows = []
    for message in messages:
        if message.key in seen:
            continue
        seen.add(message.key)
        rows.append(_row(message, sender, decided_at, common))
    if rows:
        warehouse.insert_ignore(conn, t, rows, ["message_key"])
    return len(rows)


def release(conn: Connection, keys: list[str], *, rewritten: list[Mail] | None = None) -> int:
    """Make the *held* messages of ``keys`` pending, in the caller's transaction; ``rewritten`` replaces
    the content of some of them first (same key: a note added). A message that is not held (released
    already, or never held) is left as it is. Returns how many were released."""
    from sqlalchemy import update

    from recruitment_month import config
    from recruitment_month.reports.pipeline import poll_time
    from recruitment_month.schema import audit_notification as t

    for message in rewritten or []:
        row = _row(message, config.campaign().sender, poll_time(datetime.now(UTC)), {})
        conn.execute(
            update(t)
            .where(t.c.message_key == message.key, t.c.status == "held")
            .values(body=row["body"], subject=row["subject"], recipients=row["recipients"])
        )
    if not keys:
        return 0
    result = conn.execute(
        update(t).where(t.c.message_key.in_(keys), t.c.status == "held").values(status="pending")
    )
    return result.rowcount


def _permanent(exc: Exception) -> bool:
    """An error that sending the same message again cannot cure (the server refused it for good)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return True
    if isinstance(exc, smtplib.SMTPDataError):
        return exc.smtp_code >= 500
    return isinstance(exc, ValueError)  # no recipient, a message the email package cannot send


def send_chat(body: bytes) -> None:
    """Post one stored chat message to the DingTalk robot of ``dingding_default``."""
    import json

    from airflow.providers.dingding.hooks.dingding import DingdingHook

    class TimedDingdingHook(DingdingHook):
        """The provider's hook with a time limit on the request (it sets none of its own)."""

        def run(self, endpoint=None, data=None, headers=None, extra_options=None, **kwargs):
            options = {"timeout": CHAT_TIMEOUT_SECONDS, **(extra_options or {})}
            return super().run(endpoint, data, headers, options, **kwargs)

    TimedDingdingHook(dingding_conn_id=CHAT_CONN_ID, message_type="markdown", message=json.loads(body)).send()


class _Transports:
    """One SMTP session and the chat hook, opened on first use. A channel that failed is not tried
    again in the same delivery: its messages wait for the next one."""

    def __init__(self) -> None:
        self._smtp: SmtpClient | None = None
        self.broken: dict[str, Exception] = {}

    def send(self, channel: str, body: bytes, key: str) -> str | None:
        if channel == "chat":
            send_chat(body)
            return None
        import email
        import email.policy

        from recruitment_month import config

        msg = email.message_from_bytes(body, policy=email.policy.default)
        if not (msg.get_all("To") or msg.get_all("Cc")):
            raise ValueError(f"{key} has no recipient")
        if self._smtp is None:
            self._smtp = SmtpClient().__enter__()
        del msg["From"]
        msg["From"] = formataddr((SENDER_NAME, self._smtp.sender(config.campaign().sender)))
        if msg["Date"] is None:
            msg["Date"] = formatdate(localtime=False)
        self._smtp.send(msg)
        return message_id(key)

    def break_channel(self, channel: str, exc: Exception) -> None:
        self.broken[channel] = exc
        if channel == "email":
            self.close()

    def close(self) -> None:
        if self._smtp is not None:
            smtp, self._smtp = self._smtp, None
            try:
                smtp.__exit__(None, None, None)
            except OSError as exc:  # the session is gone either way
                log.warning("Closing the SMTP session: %s", exc)


def _due(owners: list[str], now: datetime):
    from sqlalchemy import and_, or_

    from recruitment_month.schema import audit_notification as t

    return and_(
        t.c.owner.in_(owners),
        or_(
            t.c.status.in_(("pending", "failed")),
            and_(t.c.status == "sending", t.c.claimed_at < now - LEASE),
        ),
    )


def _claim(engine: Engine, key: str, owners: list[str]) -> bool:
    """Take the row for this delivery; only one delivery can win it."""
    from sqlalchemy import update

    from recruitment_month.schema import audit_notification as t

    now = datetime.now(UTC)
    with engine.begin() as conn:
        claimed = conn.execute(
            update(t)
            .where(t.c.message_key == key, _due(owners, now))
            .values(status="sending", claimed_at=now, attempts=t.c.attempts + 1)
        )
        return claimed.rowcount == 1


def _finish(engine: Engine, key: str, **values) -> None:
    from sqlalchemy import update

    from recruitment_month.schema import audit_notification as t

    with engine.begin() as conn:
        conn.execute(update(t).where(t.c.message_key == key).values(claimed_at=None, **values))


def deliver(engine: Engine, owners: list[str] | tuple[str, ...]) -> dict[str, int]:
    """Send every message of ``owners`` that is pending, failed, or claimed longer ago than the
    lease, oldest first, each exactly once. Returns the counts; raises :class:`DeliveryError` at the
    end when some could not be sent (they stay in the outbox for the next delivery)."""
    from sqlalchemy import select

    from recruitment_month.schema import audit_notification as t

    owners = list(owners)
    with engine.connect() as conn:
        due = conn.execute(
            select(t.c.message_key, t.c.channel)
            .where(_due(owners, datetime.now(UTC)))
            .order_by(t.c.created_at, t.c.message_key)
        ).all()
    counts = {"sent": 0, "failed": 0, "undeliverable": 0, "waiting": 0}
    errors: list[str] = []
    transports = _Transports()
    try:
        for key, channel in due:
            if channel in transports.broken:
                counts["waiting"] += 1
                continue
            if not _claim(engine, key, owners):
                continue  # another delivery took it
            with engine.connect() as conn:
                body = conn.execute(select(t.c.body).where(t.c.message_key == key)).scalar_one()
            try:
                if body is None:
                    raise ValueError(f"{key} was recorded without its content")
                sent_id = transports.send(channel, body, key)
            except Exception as exc:  # recorded on the row and raised at the end: nothing is dropped
                permanent = _permanent(exc)
                outcome = "undeliverable" if permanent else "failed"
                log.error("Sending %s by %s: %s: %s", key, channel, outcome, exc)
                _finish(engine, key, status=outcome, last_error=f"{type(exc).__name__}: {exc}"[:2000])
                counts[outcome] += 1
                errors.append(f"{key}: {exc}")
                if not permanent:
                    transports.break_channel(channel, exc)
                continue
            _finish(
                engine, key, status="sent", sent_at=datetime.now(UTC), message_id=sent_id, last_error=None
            )
            counts["sent"] += 1
    finally:
        transports.close()
    if any(counts.values()):
        log.info("Outbox delivery for %s: %s", ", ".join(owners), counts)
    if errors:
        raise DeliveryError(
            f"{len(errors)} message(s) not sent and {counts['waiting']} waiting; they stay in "
            f"audit_notification for the next delivery. First: {errors[0]}"
        )
    return counts

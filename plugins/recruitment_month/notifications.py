"""Email through the Airflow connection ``smtp_default``, with the notification ledger (DESIGN §8).

Every message has a key (kind, what it is about, recipient, version). ``send`` writes the ledger row
as *pending* and commits before talking to the server, then marks it *sent* (or *failed*, with the
error, and raises so the task retries). A message already *sent* under its key is never sent again, so
clearing and rerunning any task sends nothing twice. The Message-ID is derived from the key, so even
the one unavoidable window (the server accepted, the process died before the ledger said so) yields a
duplicate that mail clients recognise as the same message.

Subjects and bodies are UTF-8; the subject is RFC 2047-encoded by the email package's SMTP policy; an
HTML body always comes with a plain-text part.
"""

from __future__ import annotations

import hashlib
import logging
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

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


def build(mail: Mail, sender: str) -> EmailMessage:
    """The MIME message: text, or text + HTML (with inline images), plus attachments."""
    msg = EmailMessage()
    msg["Subject"] = mail.subject
    msg["From"] = formataddr((SENDER_NAME, sender))
    msg["To"] = ", ".join(mail.recipients)
    if mail.cc:
        msg["Cc"] = ", ".join(mail.cc)
    msg["Date"] = formatdate(localtime=False)
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


class SmtpClient:
    """An SMTP session opened from the Airflow connection (host, port, login, password, extras
    ``disable_ssl``, ``disable_tls``, ``timeout``, ``from_email`` as the SMTP provider defines them)."""

    def __init__(self, conn_id: str = SMTP_CONN_ID) -> None:
        from airflow.sdk import BaseHook

        self.conn = BaseHook.get_connection(conn_id)
        extra = self.conn.extra_dejson or {}
        self.use_ssl = not extra.get("disable_ssl", False)
        self.starttls = not extra.get("disable_tls", False)
        self.timeout = int(extra.get("timeout", 30))
        self.from_email = extra.get("from_email")
        self._client: smtplib.SMTP | None = None

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


def status(engine: Engine, key: str) -> str | None:
    from sqlalchemy import select

    from recruitment_month.schema import audit_notification as t

    with engine.connect() as conn:
        return conn.execute(select(t.c.status).where(t.c.message_key == key)).scalar_one_or_none()


def _mark(engine: Engine, mail: Mail, **values) -> None:
    from sqlalchemy import select, update

    from recruitment_month import warehouse
    from recruitment_month.schema import audit_notification as t

    with engine.begin() as conn:
        exists = conn.execute(select(t.c.attempts).where(t.c.message_key == mail.key)).first()
        if exists is None:
            warehouse.insert_ignore(
                conn,
                t,
                [
                    {
                        "message_key": mail.key,
                        "kind": mail.kind,
                        "subject_ref": mail.subject_ref,
                        "recipients": [*mail.recipients, *mail.cc],
                        "subject": mail.subject,
                        "status": "pending",
                        "attempts": 0,
                        "created_at": datetime.now(UTC),
                    }
                ],
                ["message_key"],
            )
        conn.execute(update(t).where(t.c.message_key == mail.key).values(**values))


def send_all(engine: Engine, mails: list[Mail], *, sender: str | None = None) -> dict[str, int]:
    """Send every mail not yet sent under its key; returns counts of sent / skipped / failed.

    A failure is recorded on its ledger row and the rest are still attempted; the first error is raised
    at the end so the task fails and its retry resends only what did not go out.
    """
    from sqlalchemy import select

    from recruitment_month import config
    from recruitment_month.schema import audit_notification as t

    sender = sender or config.campaign().sender
    counts = {"sent": 0, "skipped": 0, "failed": 0}
    if not mails:
        return counts
    with engine.connect() as conn:
        done = set(
            conn.execute(
                select(t.c.message_key).where(
                    t.c.message_key.in_([m.key for m in mails]), t.c.status == "sent"
                )
            ).scalars()
        )
    todo = [m for m in mails if m.key not in done]
    counts["skipped"] = len(mails) - len(todo)
    if not todo:
        return counts
    first_error: Exception | None = None
    with SmtpClient() as client:
        for mail in todo:
            with engine.begin() as conn:
                attempts = conn.execute(select(t.c.attempts).where(t.c.message_key == mail.key)).scalar()
            _mark(engine, mail, status="pending", attempts=(attempts or 0) + 1)
            try:
                client.send(build(mail, client.from_email or sender))
            except (smtplib.SMTPException, OSError) as exc:
                log.error("Sending %s to %s failed: %s", mail.key, mail.recipients, exc)
                _mark(engine, mail, status="failed", last_error=str(exc)[:2000])
                counts["failed"] += 1
                first_error = first_error or exc
                continue
            _mark(engine, mail, status="sent", sent_at=datetime.now(UTC), message_id=message_id(mail.key))
            counts["sent"] += 1
    log.info("Notifications: %s", counts)
    if first_error is not None:
        raise RuntimeError(f"{counts['failed']} message(s) could not be sent; first error: {first_error}")
    return counts

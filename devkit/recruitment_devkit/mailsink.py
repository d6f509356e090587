"""A local SMTP sink that stores every message it receives as an ``.eml`` file, standing in
for the mail server on a developer's machine (``make demo``, ``make distributed-demo``, the tests).

The embedded run mode and the tests send real SMTP to it. Each message gets its own file, numbered in
arrival order, so a message sent twice shows up twice. :func:`write_index` writes ``index.html``: every
message by its ``Date`` (the moment it was decided, the simulated one in the demo) and kind, the weekly
summaries first, each linking to its body as an ``.html`` page a browser opens (images inlined).

    python -m recruitment_devkit.mailsink DIR [--port 8025]
"""

from __future__ import annotations

import argparse
import base64
import html
import itertools
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

# Kinds listed first on the index page, in this order; the others follow in time order.
FIRST_KINDS = ("weekly_summary",)


class _Handler:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        existing = [int(p.name.split("-", 1)[0]) for p in directory.glob("*.eml") if p.name[:6].isdigit()]
        self._numbers = itertools.count(max(existing, default=0) + 1)
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        content = envelope.original_content or envelope.content
        message = message_from_bytes(content, policy=policy.default)
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", (message.get("Message-ID") or "message").strip("<>"))[:80]
        with self._lock:
            number = next(self._numbers)
        header = f"X-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n".encode()
        (self.directory / f"{number:06d}-{slug}.eml").write_bytes(header + content)
        return "250 Message accepted for delivery"


class MailSink:
    """``with MailSink(directory, port=0) as sink: ... sink.port ... sink.messages()``"""

    def __init__(self, directory: Path, *, host: str = "127.0.0.1", port: int = 8025) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.host = host
        self.port = port
        self._controller = None

    def start(self) -> MailSink:
        import logging

        from aiosmtpd.controller import Controller

        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command

        if self.port == 0:
            import socket

            with socket.socket() as sock:
                sock.bind((self.host, 0))
                self.port = sock.getsockname()[1]
        self._controller = Controller(
            _Handler(self.directory),
            hostname=self.host,
            port=self.port,
            decode_data=False,
            data_size_limit=50 * 1024 * 1024,
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> MailSink:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def files(self) -> list[Path]:
        return sorted(self.directory.glob("*.eml"))

    def messages(self) -> list:
        return [message_from_bytes(p.read_bytes(), policy=policy.default) for p in self.files()]

    @property
    def connection(self) -> dict:
        """The Airflow connection (as JSON fields) that sends to this sink."""
        return {
            "conn_type": "smtp",
            "host": self.host,
            "port": self.port,
            "extra": {"disable_tls": True, "disable_ssl": True, "timeout": 10},
        }


@dataclass(frozen=True)
class IndexEntry:
    """One message of the index page."""

    eml: Path
    page: Path  # its body as HTML
    date: datetime
    kind: str
    to: str
    subject: str


def _kind(msg: EmailMessage) -> str:
    """The message's kind: the first part of its outbox key (``weekly_summary/2022-11-25/v1``)."""
    key = str(msg.get("X-Recruitment-Message-Key") or "")
    return key.split("/", 1)[0] or "other"


def _body_html(msg: EmailMessage) -> str:
    """The HTML part with its inline images as data URIs, or the text part as preformatted HTML."""
    part = msg.get_body(preferencelist=("html",))
    if part is None:
        text = msg.get_body(preferencelist=("plain",))
        body = text.get_content() if text is not None else ""
        return f"<!DOCTYPE html><html><head><meta charset='utf-8'></head><body><pre>{html.escape(body)}</pre></body></html>"
    page = part.get_content()
    for image in msg.walk():
        cid = str(image.get("Content-ID") or "").strip("<>")
        if cid and image.get_content_maintype() == "image":
            data = base64.b64encode(image.get_payload(decode=True)).decode()
            page = page.replace(f"cid:{cid}", f"data:{image.get_content_type()};base64,{data}")
    return page


def write_page(eml: Path) -> IndexEntry:
    """Write ``<eml stem>.html`` next to the ``.eml``: the message's body for a browser."""
    msg = message_from_bytes(eml.read_bytes(), policy=policy.default)
    page = eml.with_suffix(".html")
    page.write_text(_body_html(msg), encoding="utf-8")
    return IndexEntry(
        eml=eml,
        page=page,
        date=parsedate_to_datetime(str(msg["Date"])),
        kind=_kind(msg),
        to=str(msg["To"]),
        subject=str(msg["Subject"]),
    )


def _order(entry: IndexEntry) -> tuple:
    first = FIRST_KINDS.index(entry.kind) if entry.kind in FIRST_KINDS else len(FIRST_KINDS)
    return (first, entry.date, entry.kind, entry.eml.name)


def write_index(directory: Path, tz=None) -> Path:
    """``index.html``: every message (summaries first, then the rest by date and kind), each linked to its
    body as HTML and to the ``.eml``; dates shown in ``tz`` (default: as sent)."""
    entries = sorted((write_page(p) for p in sorted(Path(directory).glob("*.eml"))), key=_order)
    rows = [
        "<tr><td>{date}</td><td>{kind}</td><td>{to}</td><td><a href='{page}'>{subject}</a></td>"
        "<td><a href='{eml}'>.eml</a></td></tr>".format(
            date=html.escape(f"{entry.date.astimezone(tz):%Y-%m-%d %H:%M}"),
            kind=html.escape(entry.kind),
            to=html.escape(entry.to),
            page=html.escape(entry.page.name),
            subject=html.escape(entry.subject),
            eml=html.escape(entry.eml.name),
        )
        for entry in entries
    ]
    page = (
        "<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'><title>Emails</title>"
        "<style>body{font-family:sans-serif;margin:24px}td,th{border-bottom:1px solid #ddd;padding:4px 8px;"
        "text-align:left}</style></head><body>"
        f"<h1>Emails sent ({len(rows)})</h1><p>The weekly summaries first, then every other message by "
        "date; a subject opens the message, .eml opens it in a mail client.</p>"
        "<table><tr><th>Date</th><th>Kind</th><th>To</th><th>Subject</th><th></th></tr>"
        + "".join(rows)
        + "</table></body></html>"
    )
    index = Path(directory) / "index.html"
    index.write_text(page, encoding="utf-8")
    return index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--port", type=int, default=8025)
    args = parser.parse_args()
    with MailSink(args.directory, port=args.port) as sink:
        print(f"SMTP sink on {sink.host}:{sink.port}, writing to {sink.directory} (Ctrl-C stops it)")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()

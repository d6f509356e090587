"""A local SMTP sink that stores every message it receives as an ``.eml`` file, standing in
for the mail server on a developer's machine (``make demo``, ``make distributed-demo``, the tests).

The embedded run mode and the tests send real SMTP to it. Each message gets its own file, numbered in
arrival order, so a message sent twice shows up twice.

    python -m recruitment_devkit.mailsink DIR [--port 8025]
"""

from __future__ import annotations

import argparse
import itertools
import re
import threading
import time
from email import message_from_bytes, policy
from pathlib import Path


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

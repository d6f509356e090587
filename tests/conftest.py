"""Test set-up: the project's environment (as the Makefile gives it), and real warehouses.

Airflow reads its settings at import, so the environment is applied before anything imports it. Tests
get their own AIRFLOW_HOME and data folder. ``warehouse_url`` is parametrised over a fresh SQLite file
and a fresh PostgreSQL schema; with CI=true a missing PostgreSQL fails the test instead of skipping it.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from pathlib import Path

import pytest

from recruitment_devkit import environment

ROOT = Path(__file__).resolve().parents[1]
_TEST_HOME = Path(tempfile.mkdtemp(prefix="recruitment-tests-"))
environment.apply(
    {
        "AIRFLOW_HOME": str(ROOT / "airflow_home" / "tests"),
        "RECRUITMENT_DATA_DIR": str(_TEST_HOME / "data"),
        "RECRUITMENT_INBOX": str(_TEST_HOME / "data" / "inbox"),
        "AIRFLOW_CONN_WAREHOUSE": json.dumps({"conn_type": "sqlite", "host": str(_TEST_HOME / "wh.db")}),
        "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
    }
)

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "test"}
IN_CI = os.environ.get("CI", "").lower() == "true"


def _postgres_available() -> str | None:
    import psycopg

    try:
        with psycopg.connect(connect_timeout=3, **PG):
            return None
    except psycopg.OperationalError as exc:
        return str(exc)


def require_postgres() -> None:
    problem = _postgres_available()
    if problem:
        message = f"PostgreSQL at {PG['host']}:{PG['port']} is not reachable: {problem}"
        if IN_CI:
            pytest.fail(message + " (CI=true: a PostgreSQL test must not be skipped)")
        pytest.skip(message)


class PostgresSchema:
    """A fresh schema in the test database, dropped afterwards; the warehouse lives in it."""

    def __init__(self) -> None:
        self.name = f"t_{secrets.token_hex(6)}"

    def __enter__(self) -> PostgresSchema:
        import psycopg

        with psycopg.connect(autocommit=True, **PG) as conn:
            conn.execute(f'CREATE SCHEMA "{self.name}"')
        return self

    def __exit__(self, *exc) -> None:
        import psycopg

        from recruitment_month import warehouse

        warehouse._engine.cache_clear()
        with psycopg.connect(autocommit=True, **PG) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE')

    @property
    def connection(self) -> dict:
        return {
            "conn_type": "postgres",
            "host": PG["host"],
            "port": PG["port"],
            "login": PG["user"],
            "schema": PG["dbname"],
            "extra": {"options": f"-csearch_path={self.name}"},
        }

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{PG['user']}@{PG['host']}:{PG['port']}/{PG['dbname']}?options=-csearch_path%3D{self.name}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_warehouse(request, tmp_path, monkeypatch):
    """An empty warehouse (no tables) on each database; the Airflow connection points at it."""
    if request.param == "sqlite":
        path = tmp_path / "warehouse.db"
        monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", json.dumps({"conn_type": "sqlite", "host": str(path)}))
        yield f"sqlite:///{path}"
        return
    require_postgres()
    with PostgresSchema() as pg:
        monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", json.dumps(pg.connection))
        yield pg.url


@pytest.fixture
def warehouse_url(empty_warehouse):
    """A migrated warehouse with reference data, on each database."""
    from recruitment_month import warehouse

    warehouse.migrate(empty_warehouse)
    warehouse.load_reference_data(empty_warehouse)
    return empty_warehouse


@pytest.fixture(scope="session")
def airflow_db():
    """Airflow's own metadata database (SQLite in the tests' AIRFLOW_HOME), migrated once per session."""
    import subprocess
    import sys

    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
    )
    return os.environ["AIRFLOW_HOME"]


@pytest.fixture
def mail_sink(tmp_path, monkeypatch):
    """A real SMTP server on a free port writing .eml files; ``smtp_default`` points at it."""
    from recruitment_devkit.mailsink import MailSink

    with MailSink(tmp_path / "mail", port=0) as sink:
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(sink.connection))
        yield sink


class ChatReceiver:
    """A local HTTP server speaking the DingTalk custom robot API: records each message, answers
    ``errcode`` 0 (or ``fail_with``, an HTTP status, while that is set)."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        receiver = self
        self.messages: list[dict] = []
        self.tokens: list[str] = []
        self.fail_with: int | None = None

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                from urllib.parse import parse_qs, urlparse

                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if receiver.fail_with:
                    self.send_response(receiver.fail_with)
                    self.end_headers()
                    return
                receiver.messages.append(json.loads(body))
                receiver.tokens.extend(parse_qs(urlparse(self.path).query).get("access_token", []))
                answer = b'{"errcode": 0, "errmsg": "ok"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def connection(self) -> dict:
        return {
            "conn_type": "dingding",
            "host": f"http://127.0.0.1:{self.server.server_address[1]}",
            "password": "robot-token",
        }

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def chat_receiver(monkeypatch):
    """The data engineers' chat group: ``dingding_default`` points at a local DingTalk-like server."""
    receiver = ChatReceiver()
    monkeypatch.setenv("AIRFLOW_CONN_DINGDING_DEFAULT", json.dumps(receiver.connection))
    yield receiver
    receiver.close()


@pytest.fixture
def closed_port() -> int:
    """A port on which nothing listens: a mail server (or any server) that is down."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]

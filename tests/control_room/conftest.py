"""Fixtures of the control room's tests: a warehouse filled by the real pipeline (the demo's inbox for
the campaign's first weeks, collected, consolidated and reminded as the DAGs do, with mail to a real
SMTP sink), and the real Airflow API app with the plugin mounted, signed-in users and their tokens."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

import pytest

WEEKS = 2  # the campaign's first weeks, every reminder step and deadline of them
USERS = {"viewer": "viewer", "operator": "user"}  # user name -> simple auth manager role


@dataclass
class Campaign:
    url: str
    engine: object
    inbox: Path
    sink: object
    manifest: object
    now: object  # the moment the replay stopped at (after the last step)


@pytest.fixture(scope="module")
def campaign_run(tmp_path_factory) -> Campaign:
    """Two weeks of the campaign in a fresh SQLite warehouse (module-wide: the tests only read it, or
    change what they restore)."""
    from recruitment_devkit.campaign_replay import replay
    from recruitment_devkit.mailsink import MailSink
    from recruitment_month import warehouse

    root = tmp_path_factory.mktemp("control-room")
    url = f"sqlite:///{root / 'warehouse.db'}"
    patch = pytest.MonkeyPatch()
    patch.setenv(
        "AIRFLOW_CONN_WAREHOUSE", json.dumps({"conn_type": "sqlite", "host": str(root / "warehouse.db")})
    )
    patch.setenv("RECRUITMENT_INBOX", str(root / "inbox"))
    patch.setenv("RECRUITMENT_ARCHIVE", str(root / "archive"))
    try:
        with MailSink(root / "mail", port=0) as sink:
            patch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(sink.connection))
            warehouse.migrate(url)
            warehouse.load_reference_data(url)
            engine = warehouse.engine(url)
            manifest, now = replay(engine, root / "inbox", weeks=WEEKS)
            yield Campaign(url, engine, root / "inbox", sink, manifest, now)
    finally:
        patch.undo()


@pytest.fixture(scope="module")
def api(campaign_run, airflow_db, tmp_path_factory):
    """Airflow's API app as the api-server builds it (plugins mounted), with the simple auth manager's
    users ``viewer`` (role viewer) and ``operator`` (role user), and a bearer token for each."""
    from airflow.api_fastapi import app as airflow_app
    from fastapi.testclient import TestClient

    home = tmp_path_factory.mktemp("auth")
    patch = pytest.MonkeyPatch()
    patch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", ",".join(f"{u}:{r}" for u, r in USERS.items()))
    patch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", str(home / "passwords.json"))
    patch.setenv("AIRFLOW__API_AUTH__JWT_SECRET", secrets.token_hex(64))
    airflow_app.purge_cached_app()
    try:
        client = TestClient(airflow_app.create_app("core"))
        passwords = json.loads((home / "passwords.json").read_text())
        tokens = {}
        for user in USERS:
            answer = client.post("/auth/token", json={"username": user, "password": passwords[user]})
            assert answer.status_code == 201, answer.text
            tokens[user] = answer.json()["access_token"]
        yield Api(client, tokens)
    finally:
        airflow_app.purge_cached_app()
        patch.undo()


@dataclass
class Api:
    client: object
    tokens: dict[str, str]

    def get(self, path: str, user: str | None = None):
        return self.client.get(path, headers=self._auth(user))

    def post(self, path: str, body: dict, user: str | None = None):
        return self.client.post(path, json=body, headers=self._auth(user))

    def _auth(self, user: str | None) -> dict:
        return {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}

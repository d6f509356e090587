"""Sign-off of the national summary: friday_consolidation under dag.test(), answered through the REST API.

A real ``airflow api-server`` runs on this test session's metadata database. The DAG runs with
``dag.test()``; its ``sign_off`` task (Airflow's human-in-the-loop operator) parks in *awaiting input*,
and a reviewer thread answers it as a person would from the Required Actions page: it logs in
(SimpleAuthManager), finds the request with ``GET .../hitlDetails`` and answers with
``PATCH .../taskInstances/sign_off/-1/hitlDetails``. A request nobody answers is resolved by the
scheduler's own timeout sweep (``SchedulerJobRunner.check_awaiting_input_timeouts``), called as the
scheduler calls it. Warehouse, SMTP sink and outbox are real.
"""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from recruitment_devkit.airflow_processes import Processes, free_port
from recruitment_month import config, schema, warehouse
from recruitment_month.settings import settings

DAGS = Path(__file__).resolve().parents[2] / "dags"
CAMPAIGN = config.campaign()
WEEK1 = CAMPAIGN.weeks[0]
DEADLINE = CAMPAIGN.deadline(WEEK1)
STARTUP_TIMEOUT = 120
ANSWER_TIMEOUT = 300
RESERVED_PORTS = {8080, *range(28080, 28091)}


class Api:
    """The REST API of the api-server, as the admin user (who is the campaign's reviewer here)."""

    def __init__(self, base_url: str) -> None:
        import httpx

        self.client = httpx.Client(base_url=base_url, timeout=30, headers={"Accept": "application/json"})

    def call(self, path: str, body: dict | None = None, method: str | None = None) -> dict:
        response = self.client.request(method or ("POST" if body is not None else "GET"), path, json=body)
        response.raise_for_status()
        return response.json()

    def login(self, password: str) -> None:
        token = self.call("/auth/token", {"username": "admin", "password": password})["access_token"]
        self.client.headers["Authorization"] = f"Bearer {token}"


@pytest.fixture(scope="module")
def api(airflow_db, tmp_path_factory):
    """``airflow api-server`` on a free port, on the tests' metadata database; logged in as admin."""
    import httpx

    logs = tmp_path_factory.mktemp("api-server")
    home = Path(os.environ["AIRFLOW_HOME"])
    env = {**os.environ, "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin"}
    processes = Processes(logs, env, cwd=logs)
    port = free_port(RESERVED_PORTS)
    server = processes.start("api-server", ["api-server", "--host", "127.0.0.1", "--port", str(port)])
    client = Api(f"http://127.0.0.1:{port}")
    passwords = home / "simple_auth_manager_passwords.json.generated"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            processes.check_alive()
            try:
                if client.call("/api/v2/monitor/health") and passwords.exists():
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the api-server did not start\n{processes.diagnostics()}")
            time.sleep(1)
        client.login(json.loads(passwords.read_text())["admin"])
        _fail_runs(client)  # a run left waiting by an interrupted session would be answered instead
        yield client
    finally:
        left_over = processes.stop(timeout=20)[1]
        assert not left_over, f"processes left running: {left_over} ({server.log})"


@pytest.fixture(scope="module")
def dag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS))
    assert not bag.import_errors
    return bag.dags["friday_consolidation"]


def _campaign_file(tmp_path: Path, **sign_off) -> Path:
    data = yaml.safe_load(settings().campaign_file.read_text(encoding="utf-8"))
    data["campaign"]["sign_off"] = {
        "required": True,
        "reviewers": [{"id": "admin", "name": "admin"}],
        "timeout": "PT1H",
        "on_timeout": "hold",
        **sign_off,
    }
    path = tmp_path / "campaign.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def world(warehouse_url, mail_sink, tmp_path, monkeypatch):
    monkeypatch.setenv("RECRUITMENT_INBOX", str(tmp_path / "inbox"))
    monkeypatch.setenv("RECRUITMENT_ARCHIVE", str(tmp_path / "archive"))
    from recruitment_month.reports.fields import COUNT_KEYS, cumulative_key

    record = {
        "unit_code": "110000",
        "week_ending": WEEK1.isoformat(),
        "contact_name": "张老师",
        "contact_phone": "1",
    }
    for key in COUNT_KEYS:
        record[key] = record[cumulative_key(key)] = 50
    path = tmp_path / "inbox" / "110000" / "a.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(record), encoding="utf-8")
    landed = (DEADLINE - timedelta(hours=2)).timestamp()
    os.utime(path, (landed, landed))

    class World:
        engine = warehouse.engine(warehouse_url)
        sink = mail_sink

        def configure(self, **sign_off) -> None:
            monkeypatch.setenv("RECRUITMENT_CAMPAIGN_FILE", str(_campaign_file(tmp_path, **sign_off)))

        def keys(self, prefix: str) -> list[str]:
            return [
                m["X-Recruitment-Message-Key"].strip()
                for m in self.sink.messages()
                if m["X-Recruitment-Message-Key"].strip().startswith(prefix)
            ]

        def mailing(self) -> dict:
            with self.engine.connect() as conn:
                return dict(conn.execute(select(schema.mart_summary_mailing)).mappings().one())

        def outbox_status(self, key: str) -> str:
            t = schema.audit_notification
            with self.engine.connect() as conn:
                return conn.execute(select(t.c.status).where(t.c.message_key == key)).scalar_one()

    return World()


def _fail_runs(api: Api) -> None:
    """End every running friday_consolidation run (dag.test() would otherwise wait for ever)."""
    for run in api.call("/api/v2/dags/friday_consolidation/dagRuns?state=running")["dag_runs"]:
        api.call(
            f"/api/v2/dags/friday_consolidation/dagRuns/{run['dag_run_id']}",
            {"state": "failed"},
            method="PATCH",
        )


class Reviewer(threading.Thread):
    """Waits for the sign-off request to appear, checks what the run has done so far, then answers
    (or, with ``answer=None``, lets the timeout pass and runs the scheduler's timeout sweep)."""

    def __init__(self, api: Api, world, answer: dict | None) -> None:
        super().__init__(daemon=True)
        self.api, self.world, self.answer = api, world, answer
        self.request: dict | None = None
        self.seen_before: dict = {}
        self.error: BaseException | None = None
        self.started = datetime.now(UTC).isoformat().replace("+00:00", "Z")

    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # reported by the test, once the run it drives has ended
            self.error = exc
            self._fail_runs()

    def _waiting(self) -> dict | None:
        found = self.api.call(
            "/api/v2/dags/friday_consolidation/dagRuns/~/hitlDetails?response_received=false"
        )
        return next(
            (
                d
                for d in found["hitl_details"]
                if d["task_instance"]["state"] == "awaiting_input" and d["created_at"] >= self.started
            ),
            None,
        )

    def _fail_runs(self) -> None:
        _fail_runs(self.api)

    def _run(self) -> None:
        deadline = time.monotonic() + ANSWER_TIMEOUT
        while (request := self._waiting()) is None:
            if time.monotonic() > deadline:
                raise TimeoutError("no sign-off request appeared")
            time.sleep(0.5)
        self.request = request
        key = f"weekly_summary/{WEEK1}/v1"
        self.seen_before = {
            "status": self.world.outbox_status(key),
            "sent": self.world.keys("weekly_summary"),
        }
        ti = request["task_instance"]
        if self.answer is None:
            from airflow.jobs.job import Job
            from airflow.jobs.scheduler_job_runner import SchedulerJobRunner

            time.sleep(2.5)  # the campaign's timeout in these tests is 2 s
            SchedulerJobRunner(job=Job()).check_awaiting_input_timeouts()
            return
        path = f"/api/v2/dags/friday_consolidation/dagRuns/{ti['dag_run_id']}/taskInstances/sign_off/-1/hitlDetails"
        self.api.call(path, self.answer, method="PATCH")


def _run_with(dag, api, world, answer: dict | None):
    reviewer = Reviewer(api, world, answer)
    reviewer.start()
    run = dag.test(logical_date=DEADLINE)
    reviewer.join(timeout=ANSWER_TIMEOUT)
    assert reviewer.error is None, repr(reviewer.error)
    assert reviewer.request is not None
    return run, reviewer


def test_approval_sends_the_summary_exactly_once_and_records_the_reviewer(dag, api, world):
    world.configure()
    run, reviewer = _run_with(
        dag, api, world, {"chosen_options": ["Approve"], "params_input": {"comment": ""}}
    )
    assert str(run.state) == "success"
    # while the request waited, the summary was held in the outbox, and nothing had gone out
    assert reviewer.seen_before == {"status": "held", "sent": []}
    body = reviewer.request["body"]
    assert "已报送 1/32" in body
    assert f"/control-room/summary/{WEEK1}/1" in body
    assert reviewer.request["assigned_users"] == [{"id": "admin", "name": "admin"}]
    assert world.keys("weekly_summary") == [f"weekly_summary/{WEEK1}/v1"]
    mailing = world.mailing()
    assert (mailing["sign_off"], mailing["signed_off_by"]) == ("approved", "admin")
    assert mailing["signed_off_at"] is not None
    # a rerun asks nothing and sends nothing
    again = dag.test(logical_date=DEADLINE)
    assert str(again.state) == "success"
    assert world.keys("weekly_summary") == [f"weekly_summary/{WEEK1}/v1"]


def test_rejection_holds_the_summary_and_alerts_the_data_engineers(dag, api, world):
    world.configure()
    answer = {"chosen_options": ["Reject"], "params_input": {"comment": "北京市的数字待核实"}}
    run, _ = _run_with(dag, api, world, answer)
    assert str(run.state) == "success"
    assert world.keys("weekly_summary") == []
    assert world.outbox_status(f"weekly_summary/{WEEK1}/v1") == "held"
    mailing = world.mailing()
    assert (mailing["sign_off"], mailing["signed_off_by"]) == ("rejected", "admin")
    assert mailing["sign_off_comment"] == "北京市的数字待核实"
    (alert,) = [
        m
        for m in world.sink.messages()
        if m["X-Recruitment-Message-Key"].strip().startswith("alert/sign_off/")
    ]
    assert alert["To"] == ", ".join(CAMPAIGN.recipients.data_engineers)
    assert "北京市的数字待核实" in alert.get_body(("plain",)).get_content()


OUTCOMES = {"send_with_note": "sent_without_sign_off", "hold": "held_without_sign_off"}


@pytest.mark.parametrize("policy", sorted(OUTCOMES))
def test_no_answer_in_time_follows_the_campaigns_policy(dag, api, world, policy):
    world.configure(timeout="PT2S", on_timeout=policy)
    run, _ = _run_with(dag, api, world, None)
    assert str(run.state) == "success"
    mailing = world.mailing()
    assert (mailing["sign_off"], mailing["signed_off_by"]) == (OUTCOMES[policy], None)
    alerts = [
        m
        for m in world.sink.messages()
        if m["X-Recruitment-Message-Key"].strip().startswith("alert/sign_off/")
    ]
    if policy == "send_with_note":
        (mail,) = [
            m
            for m in world.sink.messages()
            if m["X-Recruitment-Message-Key"].strip().startswith("weekly_summary/")
        ]
        for part in ("plain", "html"):
            assert "本邮件未经审核人签发" in mail.get_body((part,)).get_content()
        assert alerts == []
    else:
        assert world.keys("weekly_summary") == []
        assert world.outbox_status(f"weekly_summary/{WEEK1}/v1") == "held"
        assert len(alerts) == 1

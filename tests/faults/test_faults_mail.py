"""Fault injection: the mail server down for an hour, two deliveries at once, a refused login.

Every message is written to the outbox when it is decided and sent by whichever delivery reaches it
once mail is back: each exactly once, none lost. Real warehouses, a real SMTP server, a closed port
for the server that is down, and a local DingTalk-like server for the chat channel.
"""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select, update
from weekly_report import WEEK1, as_json, at

from recruitment_month import alerts, notifications, reminders, schema, warehouse
from recruitment_month.notifications import Mail
from recruitment_month.reports import pipeline as reports
from recruitment_month.summary import pipeline as summaries

OUTBOX = schema.audit_notification


def failure_context(task_id: str) -> dict:
    ti = SimpleNamespace(
        dag_id="job_feeds", task_id=task_id, run_id="r1", try_number=3, map_index=-1, log_url="http://x/log"
    )
    return {"ti": ti, "run_id": "r1", "exception": RuntimeError(f"{task_id} broke")}


@pytest.fixture
def world(warehouse_url, mail_sink, closed_port, tmp_path, monkeypatch):
    inbox = tmp_path / "inbox"
    monkeypatch.setenv("RECRUITMENT_INBOX", str(inbox))
    monkeypatch.setenv("RECRUITMENT_ARCHIVE", str(tmp_path / "archive"))
    down = json.dumps(
        {
            "conn_type": "smtp",
            "host": "127.0.0.1",
            "port": closed_port,
            "extra": mail_sink.connection["extra"],
        }
    )
    up = json.dumps(mail_sink.connection)

    class World:
        engine = warehouse.engine(warehouse_url)
        sink = mail_sink
        runs = 0

        def mail(self, working: bool) -> None:
            monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", up if working else down)

        def put(self, unit: str, name: str, content: bytes, landed: datetime) -> None:
            path = inbox / unit / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            os.utime(path, (landed.timestamp(), landed.timestamp()))

        def provincial_run(self) -> None:
            """One provincial_reports run, task by task; ``notify`` fails while mail is down."""
            self.runs += 1
            run_id = f"run{self.runs}"
            reports.collect(self.engine, run_id=run_id)
            reports.run_process(self.engine, run_id=run_id)
            reports.notify(self.engine)

        def outbox(self) -> list[dict]:
            with self.engine.connect() as conn:
                return [dict(r) for r in conn.execute(select(OUTBOX)).mappings()]

        def delivered_keys(self) -> Counter:
            return Counter(m["X-Recruitment-Message-Key"] for m in self.sink.messages())

    return World()


def test_an_hour_without_mail_delays_every_message_and_loses_none(world):
    world.mail(working=False)
    world.put("110000", "周报.json", as_json("110000"), at(WEEK1, 9))
    world.put("120000", "bad.json", as_json("120000", graduates="约300"), at(WEEK1, 9, 30))
    # Six runs of provincial_reports over the hour, a new file arriving in the middle of it.
    for minute in range(0, 60, 10):
        if minute == 30:
            world.put("130000", "late-ish.json", as_json("130000"), at(WEEK1, 16, 40))
        with pytest.raises(notifications.DeliveryError):
            world.provincial_run()
    # The Friday deadline passes during the outage: the summary, the deadline reminders, an alert.
    versions = summaries.consolidate(world.engine, at(WEEK1, 17))
    assert [v["version"] for v in versions] == [1]
    with pytest.raises(notifications.DeliveryError):
        summaries.deliver(world.engine)
    with pytest.raises(notifications.DeliveryError):
        reminders.run(world.engine, at(WEEK1, 17))
    alerts.on_failure(failure_context("extract"))  # must not raise: the alert waits in the outbox
    assert world.sink.messages() == []
    waiting = world.outbox()
    assert waiting
    assert all(r["status"] in ("pending", "failed") for r in waiting)
    assert all(r["body"] for r in waiting)  # each message whole, ready for any later run

    world.mail(working=True)
    world.provincial_run()  # the first run after the outage: its notify sends what it owns, and the alerts
    summaries.deliver(world.engine)
    reminders.run(world.engine, at(WEEK1, 18))  # no step due at 18:00: it only delivers
    outbox = world.outbox()
    assert {r["status"] for r in outbox} == {"sent"}
    delivered = world.delivered_keys()
    assert set(delivered) == {r["message_key"] for r in outbox}
    assert set(delivered.values()) == {1}  # each exactly once
    kinds = Counter(r["kind"] for r in outbox)
    assert kinds["report_receipt"] == 2
    assert kinds["report_rejection"] == 1
    assert kinds["weekly_summary"] == 1
    assert kinds["pipeline_alert"] == 1
    assert kinds["reminder_deadline"] == 30  # every unit without an accepted report, once

    # Later runs, with mail working, send nothing again.
    world.provincial_run()
    summaries.deliver(world.engine)
    reminders.run(world.engine, at(WEEK1, 19))
    assert world.delivered_keys() == delivered


def test_a_stored_version_whose_email_never_reached_the_outbox_is_sent(world):
    world.mail(working=True)
    summaries.consolidate(world.engine, at(WEEK1, 17))
    with world.engine.begin() as conn:  # a version stored before the outbox existed
        conn.execute(OUTBOX.delete())
        conn.execute(schema.mart_summary_mailing.delete())
    summaries.deliver(world.engine)
    summaries.deliver(world.engine)
    assert list(world.delivered_keys().elements()) == [f"weekly_summary/{WEEK1}/v1"]


def test_a_reminder_held_up_by_the_outage_is_withdrawn_once_the_unit_has_reported(world):
    world.mail(working=False)
    with pytest.raises(notifications.DeliveryError):
        reminders.run(world.engine, at(WEEK1 - timedelta(days=1), 17))
    world.put("110000", "a.json", as_json("110000"), at(WEEK1 - timedelta(days=1), 18))
    with pytest.raises(notifications.DeliveryError):
        world.provincial_run()
    world.mail(working=True)
    result = reminders.run(world.engine, at(WEEK1 - timedelta(days=1), 19))
    assert result["withdrawn"] == 1
    recipients = Counter(
        m["To"] for m in world.sink.messages() if "reminder" in m["X-Recruitment-Message-Key"]
    )
    assert "jyc-110000@example.org" not in recipients
    assert len(recipients) == 31
    assert set(recipients.values()) == {1}


def test_two_deliveries_at_once_send_each_message_once(world):
    world.mail(working=True)
    mails = [
        Mail(
            key=f"test/{i}",
            kind="test",
            subject_ref=str(i),
            recipients=["a@example.org"],
            subject=f"第{i}封",
            text="正文",
        )
        for i in range(30)
    ]
    with world.engine.begin() as conn:
        notifications.enqueue(conn, mails, owner="provincial_reports")
        notifications.enqueue(conn, mails, owner="provincial_reports")  # a rerun of the deciding step
    results = []

    def delivery():
        results.append(notifications.deliver(world.engine, ["provincial_reports"]))

    threads = [threading.Thread(target=delivery) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(r["sent"] for r in results) == 30
    assert sorted(world.delivered_keys().items()) == sorted((m.key, 1) for m in mails)


def test_a_delivery_that_died_mid_send_is_taken_over_after_the_lease(world):
    world.mail(working=True)
    mail = Mail(
        key="test/lease", kind="test", subject_ref="x", recipients=["a@example.org"], subject="s", text="t"
    )
    with world.engine.begin() as conn:
        notifications.enqueue(conn, [mail], owner="report_reminders")
        conn.execute(  # claimed by a process that died a moment ago: not taken over yet
            update(OUTBOX).values(status="sending", claimed_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    assert notifications.deliver(world.engine, ["report_reminders"])["sent"] == 0
    with world.engine.begin() as conn:
        conn.execute(
            update(OUTBOX).values(claimed_at=datetime.now(UTC) - notifications.LEASE - timedelta(seconds=1))
        )
    assert notifications.deliver(world.engine, ["report_reminders"])["sent"] == 1
    assert list(world.delivered_keys()) == ["test/lease"]


def test_alerts_reach_the_chat_group_while_mail_is_down(world, chat_receiver):
    world.mail(working=False)
    alerts.on_failure(failure_context("load"))
    alerts.on_failure(failure_context("load"))  # the callback running twice posts once
    (posted,) = chat_receiver.messages
    assert posted["msgtype"] == "markdown"
    assert "job_feeds.load" in posted["markdown"]["title"]
    assert "load broke" in posted["markdown"]["text"]
    assert chat_receiver.tokens == ["robot-token"]
    statuses = {r["channel"]: r["status"] for r in world.outbox()}
    assert statuses == {"chat": "sent", "email": "failed"}
    world.mail(working=True)
    reports.notify(world.engine)  # any DAG's delivery carries the alerts
    (mail,) = world.sink.messages()
    assert "job_feeds.load" in mail["Subject"]


def test_with_the_warehouse_down_too_the_alert_still_reaches_the_chat_group(
    world, chat_receiver, monkeypatch, closed_port
):
    world.mail(working=False)
    monkeypatch.setenv(
        "AIRFLOW_CONN_WAREHOUSE",
        json.dumps(
            {"conn_type": "postgres", "host": "127.0.0.1", "port": closed_port, "login": "x", "schema": "x"}
        ),
    )
    warehouse._engine.cache_clear()
    alerts.on_failure(failure_context("merge"))
    (posted,) = chat_receiver.messages
    assert "job_feeds.merge" in posted["markdown"]["title"]


def test_a_password_is_never_sent_over_an_unencrypted_connection(world, monkeypatch):
    plaintext = {"conn_type": "smtp", "host": "127.0.0.1", "port": 25, "login": "robot", "password": "s3cret"}
    plaintext["extra"] = {"disable_ssl": True, "disable_tls": True}
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(plaintext))
    with pytest.raises(notifications.PlaintextLoginRefused, match="allow_plaintext_login"):
        notifications.SmtpClient()
    mail = Mail(
        key="test/tls", kind="test", subject_ref="x", recipients=["a@example.org"], subject="s", text="t"
    )
    with world.engine.begin() as conn:
        notifications.enqueue(conn, [mail], owner="alerts")
    with pytest.raises(notifications.DeliveryError):
        notifications.deliver(world.engine, ["alerts"])
    (row,) = world.outbox()
    assert row["status"] == "failed"
    assert "PlaintextLoginRefused" in row["last_error"]
    plaintext["extra"]["allow_plaintext_login"] = True
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(plaintext))
    assert notifications.SmtpClient().starttls is False  # allowed on purpose: no refusal

"""A failed task emails the data engineers once, through the ledger; without a warehouse it still does."""

from __future__ import annotations

import json
from types import SimpleNamespace

from recruitment_month import alerts, warehouse


def _context():
    ti = SimpleNamespace(
        dag_id="job_feeds",
        task_id="extract",
        run_id="scheduled__2022-11-11T09:00:00+00:00",
        try_number=3,
        map_index=4,
        log_url="http://localhost:8080/log",
    )
    return {"ti": ti, "run_id": ti.run_id, "exception": RuntimeError("zhilian kept answering 503")}


def test_a_failed_task_alerts_the_engineers_once(warehouse_url, mail_sink):
    alerts.on_failure(_context())
    alerts.on_failure(_context())  # the callback running twice sends once
    (mail,) = mail_sink.messages()
    assert mail["To"] == "data-engineering@example.org"
    assert "job_feeds.extract[4]" in mail["Subject"]
    body = mail.get_body(("plain",)).get_content()
    assert "zhilian kept answering 503" in body
    assert "try 3" in body
    assert warehouse.engine(warehouse_url) is not None


def test_the_alert_goes_out_when_the_warehouse_is_down(mail_sink, monkeypatch, tmp_path):
    monkeypatch.setenv(
        "AIRFLOW_CONN_WAREHOUSE",
        json.dumps(
            {"conn_type": "postgres", "host": "127.0.0.1", "port": 1, "login": "nobody", "schema": "none"}
        ),
    )
    alerts.on_failure(_context())
    (mail,) = mail_sink.messages()
    assert "任务失败" in mail["Subject"]

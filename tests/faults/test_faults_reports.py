"""Fault injection: report files that break the parser never stop the other units' reports.

A workbook that outlasts the time limit, a parsing process killed mid-file (as the kernel's OOM killer
does), a task that died on a file's last attempt: each such file ends quarantined with the rule
``parse_crashed``, one alert to the data engineers and one notice to its unit, while every other file
of the run is loaded and answered; a rerun changes nothing. Real warehouses, a real SMTP server.
"""

from __future__ import annotations

import io
import os
import random
import signal
import threading
import time
import zipfile
from datetime import date, datetime
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select, update
from weekly_report import WEEK1, as_json

from recruitment_month import config, schema, warehouse
from recruitment_month.reports import pipeline
from recruitment_month.reports.isolation import IsolatedParser, ParseCrashed
from recruitment_month.reports.template import build_workbook, workbook_bytes
from recruitment_month.settings import settings

FILES = schema.audit_inbox_file


def slow_workbook(cells: int = 400_000) -> bytes:
    """The ministry's form with its sheet replaced by ``cells`` random numbers: within the size and zip
    limits, and seconds of work for the parser."""
    book = io.BytesIO(workbook_bytes(build_workbook(config.campaign())))
    rng = random.Random(7)
    rows = "".join(
        f'<row r="{r}">'
        + "".join(f'<c r="{c}{r}"><v>{rng.randrange(10**9)}</v></c>' for c in "ABCDEFGHIJ")
        + "</row>"
        for r in range(1, cells // 10 + 1)
    )
    sheet = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"<sheetData>{rows}</sheetData></worksheet>"
    ).encode()
    out = io.BytesIO()  # the heavy sheet in place of the form's: the parser must read it to find the form
    with zipfile.ZipFile(book) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in src.namelist():
            dst.writestr(name, sheet if name == "xl/worksheets/sheet1.xml" else src.read(name))
    return out.getvalue()


@pytest.fixture
def env(warehouse_url, mail_sink, tmp_path, monkeypatch):
    def limits(**values):
        data = yaml.safe_load(settings().campaign_file.read_text())
        data["campaign"]["parse_limits"] = {"memory_mb": 1024, "seconds": 60, "attempts": 3, **values}
        path = tmp_path / f"campaign-{len(values)}-{time.monotonic_ns()}.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True))
        monkeypatch.setenv("RECRUITMENT_CAMPAIGN_FILE", str(path))

    inbox = tmp_path / "inbox"
    monkeypatch.setenv("RECRUITMENT_INBOX", str(inbox))
    monkeypatch.setenv("RECRUITMENT_ARCHIVE", str(tmp_path / "archive"))

    class Env:
        engine = warehouse.engine(warehouse_url)
        sink = mail_sink
        runs = 0

        def __init__(self):
            self.limits = limits

        def put(self, unit: str, name: str, content: bytes, hour: int = 10) -> None:
            path = inbox / unit / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            landed = datetime(
                WEEK1.year, WEEK1.month, WEEK1.day, hour, tzinfo=config.campaign().tz
            ).timestamp()
            os.utime(path, (landed, landed))

        def run(self) -> dict:
            self.runs += 1
            run_id = f"run{self.runs}"
            pipeline.collect(self.engine, run_id=run_id)
            summary = pipeline.run_process(self.engine, run_id=run_id)
            summary["sent"] = pipeline.notify(self.engine)
            return summary

        def files(self) -> dict[str, dict]:
            with self.engine.connect() as conn:
                return {r["file_name"]: dict(r) for r in conn.execute(select(FILES)).mappings()}

        def snapshot(self) -> dict:
            tables = (FILES, schema.core_report, schema.audit_report_problem, schema.audit_notification)
            with self.engine.connect() as conn:
                return {t.name: sorted(map(str, conn.execute(select(t)).all())) for t in tables}

        def mails(self) -> list:
            return self.sink.messages()

    return Env()


def test_a_workbook_that_outlasts_the_time_limit_is_quarantined_and_the_others_are_answered(env):
    env.limits(seconds=0.5, attempts=2)
    env.put("110000", "a.json", as_json("110000"), hour=9)
    env.put("120000", "heavy.xlsx", slow_workbook(), hour=10)
    env.put("130000", "c.json", as_json("130000"), hour=11)
    summary = env.run()
    assert (summary["accepted"], summary["rejected"]) == (2, 1)
    assert summary["rejections_by_rule"] == {"parse_crashed": 1}
    heavy = env.files()["heavy.xlsx"]
    assert heavy["status"] == "rejected"
    assert heavy["attempts"] == 2
    assert "longer than the limit of 0.5 s" in heavy["last_error"]
    mails = env.mails()
    by_key = {m["X-Recruitment-Message-Key"].split("/")[0]: m for m in mails}
    assert sorted(m["X-Recruitment-Message-Key"].split("/")[0] for m in mails) == [
        "alert",
        "receipt",
        "receipt",
        "rejection",
    ]
    notice = next(m for m in mails if m["To"] == "jyc-120000@example.org").get_body(("plain",)).get_content()
    assert "已被隔离" in notice
    assert "heavy.xlsx" in notice
    alert = by_key["alert"]
    assert alert["To"] == "data-engineering@example.org"
    assert "120000/heavy.xlsx" in alert["Subject"]
    assert "longer than the limit" in alert.get_body(("plain",)).get_content()

    before = env.snapshot()
    again = env.run()  # the next run: nothing to do, nothing sent
    assert again["processed"] == 0
    assert env.snapshot() == before
    assert len(env.mails()) == 4


def test_a_file_whose_task_died_on_its_last_attempt_is_quarantined_without_another(env):
    env.put("110000", "fine.json", as_json("110000"))
    pipeline.collect(env.engine, run_id="r0")
    with env.engine.begin() as conn:  # three tries started, and the task process died each time
        conn.execute(update(FILES).values(attempts=3, last_error=None))
    summary = env.run()
    assert summary["rejections_by_rule"] == {"parse_crashed": 1}
    assert env.files()["fine.json"]["attempts"] == 3  # not parsed a fourth time
    assert len(env.mails()) == 2  # the unit's notice and the engineers' alert


def test_the_parsing_process_killed_mid_file_breaks_only_that_file(tmp_path):
    heavy = slow_workbook()
    with IsolatedParser(memory_mb=900, seconds=120) as parser:
        child = parser._start()
        parser._child = child
        limits = Path(f"/proc/{child.pid}/limits").read_text()
        (line,) = [x for x in limits.splitlines() if x.startswith("Max address space")]
        assert line.split()[3] == str(900 * 2**20)  # the memory limit is in force in the child

        def oom_killer():
            time.sleep(1)
            os.kill(child.pid, signal.SIGKILL)

        threading.Thread(target=oom_killer).start()
        with pytest.raises(ParseCrashed, match="killed by SIGKILL"):
            parser.parse(heavy, "heavy.xlsx", max_bytes=5 << 20)
        result = parser.parse(as_json("110000"), "next.json", max_bytes=5 << 20)  # a fresh child
        assert result.record
        assert result.record["unit_code"] == "110000"
        assert result.record["week_ending"] == date.fromisoformat(WEEK1.isoformat())


@pytest.mark.parametrize(
    "empty_warehouse", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)  # a server restart, as its clients see it: the connection is terminated by the server
def test_the_warehouse_lost_mid_run_fails_the_task_and_the_retry_loads_each_file_once(env):
    from sqlalchemy import event, text
    from sqlalchemy.exc import OperationalError

    for hour, unit in enumerate(("110000", "120000", "130000"), start=9):
        env.put(unit, f"{unit}.json", as_json(unit), hour=hour)
    pipeline.collect(env.engine, run_id="r1")
    reports_written = []

    def terminate_at_the_second_report(**event_args):
        statement = event_args["statement"]
        if statement.lstrip().lower().startswith("insert into core_report"):
            reports_written.append(statement)
            if len(reports_written) == 2:
                pid = event_args["cursor"].connection.info.backend_pid
                with env.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as admin:
                    admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

    event.listen(env.engine, "before_cursor_execute", terminate_at_the_second_report, named=True)
    try:
        with pytest.raises(OperationalError):
            pipeline.run_process(env.engine, run_id="r1")
    finally:
        event.remove(env.engine, "before_cursor_execute", terminate_at_the_second_report)
    files = env.files()
    assert [files[f"{u}.json"]["status"] for u in ("110000", "120000", "130000")] == [
        "accepted",
        "received",  # its transaction was lost whole: no report, no problems, no message
        "received",
    ]
    with env.engine.connect() as conn:
        assert conn.execute(select(schema.core_report.c.unit_code)).scalars().all() == ["110000"]
        outbox = conn.execute(select(schema.audit_notification.c.message_key)).scalars().all()
    assert outbox == [f"receipt/{files['110000.json']['file_id']}"]

    env.run()  # the task's retry
    files = env.files()
    assert {f["status"] for f in files.values()} == {"accepted"}
    with env.engine.connect() as conn:
        units = sorted(conn.execute(select(schema.core_report.c.unit_code)).scalars())
    assert units == ["110000", "120000", "130000"]
    keys = [m["X-Recruitment-Message-Key"] for m in env.mails()]
    assert sorted(keys) == sorted(f"receipt/{f['file_id']}" for f in files.values())

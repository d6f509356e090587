"""The provincial reports pipeline against real warehouses (SQLite and PostgreSQL) and a real SMTP server."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlalchemy import func, select

from recruitment_month import config, schema, warehouse
from recruitment_month.reports import pipeline
from recruitment_month.reports.fields import COUNT_KEYS, RECORD_KEYS, cumulative_key, flat_columns
from recruitment_month.reports.template import fill_template

TZ = config.campaign().tz
WEEK1, WEEK2 = date(2022, 11, 11), date(2022, 11, 18)


def record(unit="110000", week=WEEK1, base=100, previous: dict | None = None, **overrides) -> dict:
    row = {
        "unit_code": unit,
        "week_ending": week.isoformat(),
        "contact_name": "王老师",
        "contact_phone": "010-66000000",
    }
    for i, key in enumerate(COUNT_KEYS):
        weekly = base + i
        row[key] = weekly
        row[cumulative_key(key)] = weekly + (int(previous[cumulative_key(key)]) if previous else 0)
    row["positions"] = row["employers"] * 20
    row["positions_cumulative"] = row["positions"] + (
        int(previous["positions_cumulative"]) if previous else 0
    )
    row["highlights"] = "组织线上线下招聘会。"
    row["problems"] = "无"
    row.update(overrides)
    return row


def as_csv(rec: dict, encoding="utf-8", language="zh") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(flat_columns(language))
    writer.writerow([rec.get(k, "") for k in RECORD_KEYS])
    return out.getvalue().encode(encoding)


def as_json(rec: dict) -> bytes:
    return json.dumps(rec, ensure_ascii=False).encode("utf-8")


def as_xlsx(rec: dict, tmp_path: Path) -> bytes:
    values = dict(rec, week_ending=date.fromisoformat(rec["week_ending"]))
    return fill_template(tmp_path / "form.xlsx", values).read_bytes()


def put(inbox: Path, folder: str, name: str, content: bytes, landed: datetime) -> Path:
    path = inbox / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    os.utime(path, (landed.timestamp(), landed.timestamp()))
    return path


def beijing(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=TZ)


@pytest.fixture
def env(warehouse_url, mail_sink, tmp_path, monkeypatch):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    monkeypatch.setenv("RECRUITMENT_INBOX", str(inbox))
    monkeypatch.setenv("RECRUITMENT_ARCHIVE", str(tmp_path / "archive"))

    class Env:
        url = warehouse_url
        engine = warehouse.engine(warehouse_url)
        sink = mail_sink
        archive = tmp_path / "archive"

        def __init__(self):
            self.inbox = inbox
            self.runs = 0

        def run(self) -> dict:
            """What one DAG run does, task by task."""
            self.runs += 1
            run_id = f"test_run_{self.runs}"
            collected = pipeline.collect(self.engine, run_id=run_id)
            summary = pipeline.run_process(
                self.engine, run_id=run_id, collected={"seen": collected.seen, "new": collected.new}
            )
            summary["sent"] = pipeline.notify(self.engine)
            return summary

        def rows(self, table, *where):
            with self.engine.connect() as conn:
                return [dict(r) for r in conn.execute(select(table).where(*where)).mappings()]

        def problems(self, name: str) -> list[dict]:
            f, p = schema.audit_inbox_file, schema.audit_report_problem
            with self.engine.connect() as conn:
                query = (
                    select(p)
                    .join(f, f.c.file_id == p.c.file_id)
                    .where(f.c.file_name == name)
                    .order_by(p.c.seq)
                )
                return [dict(r) for r in conn.execute(query).mappings()]

        def mails(self):
            return [message_from_bytes(p.read_bytes(), policy=policy.default) for p in self.sink.files()]

    return Env()


def test_the_same_report_in_every_format_loads_identical_rows(env, tmp_path):
    rec = record()
    contents = {
        "form.xlsx": as_xlsx(rec, tmp_path),
        "utf8.csv": as_csv(rec, "utf-8"),
        "bom.csv": as_csv(rec, "utf-8-sig"),
        "gb.csv": as_csv(rec, "gb18030"),
        "english.csv": as_csv(rec, "utf-8", language="en"),
        "report.json": as_json(rec),
    }
    landed = beijing(WEEK1, 9)
    for i, (name, content) in enumerate(contents.items()):
        # one unit each, so each file is a first revision of its own report
        unit = config.units().units[i].code
        body = content.replace(b"110000", unit.encode()) if not name.endswith(".xlsx") else None
        if body is None:
            body = as_xlsx(dict(rec, unit_code=unit), tmp_path)
        put(env.inbox, unit, name, body, landed)
    summary = env.run()
    assert summary["accepted"] == len(contents), summary
    rows = env.rows(schema.core_report)
    assert len(rows) == len(contents)
    comparable = [
        {k: v for k, v in r.items() if k not in ("unit_code", "file_id", "loaded_at")} for r in rows
    ]
    assert all(c == comparable[0] for c in comparable), comparable
    assert rows[0]["positions"] == rec["positions"]
    assert rows[0]["timeliness"] == "on_time"


def test_on_time_and_late_are_decided_by_landing_time_at_the_17_00_boundary(env):
    put(env.inbox, "110000", "a.json", as_json(record("110000")), beijing(WEEK1, 16, 59, 59))
    put(env.inbox, "120000", "b.json", as_json(record("120000")), beijing(WEEK1, 17, 0, 0))
    put(env.inbox, "130000", "c.json", as_json(record("130000")), beijing(WEEK1, 17, 0, 1))
    put(env.inbox, "140000", "d.json", as_json(record("140000")), beijing(WEEK1, 17, 1))
    env.run()
    timeliness = {r["unit_code"]: r["timeliness"] for r in env.rows(schema.core_report)}
    assert timeliness == {"110000": "on_time", "120000": "on_time", "130000": "late", "140000": "late"}
    landed = {r["unit_code"]: r["landed_at"] for r in env.rows(schema.core_report)}
    assert landed["120000"] == datetime(2022, 11, 11, 9, 0, tzinfo=UTC)
    subjects = sorted(m["Subject"] for m in env.mails())
    assert sum("（按时报送）" in s for s in subjects) == 2
    assert sum("（逾期报送）" in s for s in subjects) == 2


def test_landing_time_is_recorded_when_first_seen_not_when_touched_later(env):
    path = put(env.inbox, "110000", "a.json", as_json(record()), beijing(WEEK1, 10))
    env.run()
    os.utime(path, (beijing(WEEK1, 18).timestamp(),) * 2)  # the storage reports a later time now
    summary = env.run()
    assert summary["processed"] == 0
    (row,) = env.rows(schema.core_report)
    assert row["timeliness"] == "on_time"
    assert row["landed_at"] == beijing(WEEK1, 10).astimezone(UTC)


def test_a_second_run_changes_nothing_and_sends_nothing(env):
    put(env.inbox, "110000", "ok.json", as_json(record()), beijing(WEEK1, 10))
    put(env.inbox, "120000", "bad.json", as_json(record("120000", positions="约300")), beijing(WEEK1, 11))
    first = env.run()
    assert (first["accepted"], first["rejected"]) == (1, 1)
    tables = (
        schema.core_report,
        schema.audit_inbox_file,
        schema.audit_report_problem,
        schema.audit_notification,
    )
    before = {t.name: env.rows(t) for t in tables}
    mails_before = len(env.sink.files())
    assert mails_before == 2
    second = env.run()
    nothing = {"sent": 0, "failed": 0, "undeliverable": 0, "waiting": 0}
    assert second["processed"] == 0
    assert second["sent"] == nothing
    assert {t.name: env.rows(t) for t in tables} == before
    # notifying the first run's files again (a cleared notify task) sends nothing either
    assert pipeline.notify(env.engine) == nothing
    assert len(env.sink.files()) == mails_before


def test_a_revision_supersedes_and_every_revision_is_kept(env):
    put(env.inbox, "110000", "v1.json", as_json(record(base=100)), beijing(WEEK1, 10))
    env.run()
    put(env.inbox, "110000", "v2.csv", as_csv(record(base=200)), beijing(WEEK1, 15))
    summary = env.run()
    assert summary["revisions"] == 1
    rows = sorted(env.rows(schema.core_report), key=lambda r: r["revision"])
    assert [r["revision"] for r in rows] == [1, 2]
    with env.engine.connect() as conn:
        (current,) = pipeline.current_reports(conn, WEEK1, WEEK1)
    assert current["revision"] == 2
    assert current["job_fairs_online"] == 200
    receipt = env.mails()[-1]
    assert "第2版" in receipt.get_body(("plain",)).get_content()


def test_identical_content_under_another_name_is_not_a_revision(env):
    content = as_json(record())
    put(env.inbox, "110000", "a.json", content, beijing(WEEK1, 10))
    env.run()
    put(env.inbox, "110000", "copy of a.json", content, beijing(WEEK1, 12))
    summary = env.run()
    assert summary["processed"] == 0
    assert len(env.rows(schema.core_report)) == 1


def test_a_file_declaring_another_unit_is_rejected_and_reported(env):
    put(env.inbox, "110000", "mine.json", as_json(record("110000")), beijing(WEEK1, 9))
    env.run()
    # unit 120000's folder holds a report that claims to be Beijing's
    put(env.inbox, "120000", "forged.json", as_json(record("110000", base=999)), beijing(WEEK1, 10))
    summary = env.run()
    assert summary["rejected"] == 1
    (problem,) = [p for p in env.problems("forged.json") if p["rule"] == "unit_folder_mismatch"]
    assert problem["severity"] == "reject"
    assert problem["value"] == "110000"
    assert "北京市" in problem["message"]
    assert "天津市" in problem["message"]
    (current,) = env.rows(schema.core_report)
    assert current["unit_code"] == "110000"  # not overwritten
    assert current["job_fairs_online"] == 100
    mails = env.mails()
    security = [m for m in mails if "Inbox security" in m["Subject"]]
    assert len(security) == 1
    assert "data-engineering@example.org" in security[0]["To"]
    rejection = [m for m in mails if "未通过校验" in m["Subject"]]
    assert rejection[0]["To"] == "jyc-120000@example.org"  # the folder's owner, not the claimed unit


def test_a_file_outside_any_units_folder_is_rejected_to_the_engineers(env):
    put(env.inbox, "999999", "x.json", as_json(record()), beijing(WEEK1, 9))
    env.run()
    (problem,) = env.problems("x.json")
    assert problem["rule"] == "folder_unknown"
    assert problem["value"] == "999999"
    assert all("data-engineering@example.org" in m["To"] for m in env.mails())


def test_every_file_is_archived_unchanged_whatever_happens(env):
    files = {
        "ok.json": as_json(record()),
        "bad.csv": as_csv(record(positions="-5")),
        "image.xlsx": b"\x89PNG\r\n\x1a\n" + b"\0" * 100,
        "empty.csv": b"",
    }
    for name, content in files.items():
        put(env.inbox, "110000", name, content, beijing(WEEK1, 9))
    summary = env.run()
    assert (summary["accepted"], summary["rejected"]) == (1, 3)
    for row in env.rows(schema.audit_inbox_file):
        original = files[row["file_name"]]
        assert Path(row["archive_uri"]).read_bytes() == original
        assert row["sha256"] == hashlib.sha256(original).hexdigest()
        assert Path(row["archive_uri"]).name == row["sha256"]


def test_rejection_notice_lists_every_problem_in_chinese(env):
    bad = record(positions="约300", graduates="-5", employers="12人")
    put(env.inbox, "110000", "bad.csv", as_csv(bad), beijing(WEEK1, 9))
    env.run()
    problems = env.problems("bad.csv")
    assert {(p["field"], p["value"]) for p in problems} >= {
        ("positions", "约300"),
        ("graduates", "-5"),
        ("employers", "12人"),
    }
    (mail,) = env.mails()
    assert mail["Subject"].startswith("【校园招聘月】北京市")
    assert "“bad.csv”（11月11日 09:00收到）未通过校验" in mail["Subject"]
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    for value in ("约300", "-5", "12人"):
        assert value in text
        assert value in html
    assert "第1周（截至2022年11月11日）" in mail["Subject"]
    assert "2022年11月11日 17:00" in text  # the deadline to resubmit by
    raw = env.sink.files()[0].read_bytes()
    assert b"=?utf-8?" in raw.split(b"\r\n\r\n", 1)[0] or b"=?UTF-8?" in raw.split(b"\r\n\r\n", 1)[0]


def test_cross_week_rules_warn_and_load(env):
    first = record(base=200)
    put(env.inbox, "110000", "w1.json", as_json(first), beijing(WEEK1, 9))
    env.run()
    # cumulative should be last week's plus this week's: off by 50 for job_fairs_online
    second = record(week=WEEK2, base=50, previous=first)
    second["job_fairs_online_cumulative"] += 50
    second["campus_events_cumulative"] = 100  # above this week's 52, below last week's 202
    put(env.inbox, "110000", "w2.json", as_json(second), beijing(WEEK2, 9))
    summary = env.run()
    assert summary["accepted"] == 1
    assert summary["warnings"] >= 2
    rules = {(p["rule"], p["field"]) for p in env.problems("w2.json")}
    assert ("cumulative_discontinuity", "job_fairs_online_cumulative") in rules
    assert ("cumulative_decreased", "campus_events_cumulative") in rules
    week2 = [r for r in env.rows(schema.core_report) if r["week_ending"] == WEEK2]
    assert week2[0]["warning_count"] >= 2
    receipt = env.mails()[-1]
    assert "请核实" in receipt["Subject"]


def test_an_object_storage_inbox_works_like_a_folder(env, monkeypatch):
    import fsspec

    fs = fsspec.filesystem("memory")
    fs.pipe("/inbox-test/110000/report.json", as_json(record()))
    monkeypatch.setenv("RECRUITMENT_INBOX", "memory://inbox-test")
    summary = env.run()
    assert summary["accepted"] == 1
    (row,) = env.rows(schema.audit_inbox_file)
    assert row["landed_at"].tzinfo is not None
    fs.rm("/inbox-test", recursive=True)


def test_every_run_ends_with_a_report_in_the_audit_layer(env):
    put(env.inbox, "110000", "a.json", as_json(record()), beijing(WEEK1, 9))
    put(env.inbox, "120000", "b.json", as_json(record("120000", graduates="abc")), beijing(WEEK1, 9))
    env.run()
    with env.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.audit_load)).scalar_one() == 1
    (load,) = env.rows(schema.audit_load)
    assert load["counts"]["accepted"] == 1
    assert load["counts"]["rejected"] == 1
    assert load["counts"]["rejections_by_rule"] == {"count_not_integer": 1}


def test_every_bad_input_is_rejected_recorded_archived_and_answered_while_others_load(env):
    from report_builders import sample_record
    from test_report_parse import BAD_INPUTS

    record_ = sample_record()
    landed = beijing(date(2022, 11, 18), 9)
    expected = {}
    for number, case in enumerate(BAD_INPUTS):
        make, filename, rule, field, cell, _fragments = case.values
        name = f"{number:02d}-{case.id}-{filename}"
        content = make(record_)
        if any(content == other[3] for other in expected.values()):
            continue  # the same bytes as another case: one file (tested by the content-hash test)
        put(env.inbox, "440000", name, content, landed)
        expected[name] = (rule, field, cell, content)
    good = as_json(record("440000", week=date(2022, 11, 18)))
    put(env.inbox, "440000", "zz-good.json", good, landed + timedelta(minutes=1))
    summary = env.run()
    assert len(expected) >= 30
    assert summary["accepted"] == 1
    assert summary["rejected"] == len(expected)
    files = {r["file_name"]: r for r in env.rows(schema.audit_inbox_file)}
    for name, (rule, field, cell, content) in expected.items():
        row = files[name]
        assert row["status"] == "rejected", name
        assert Path(row["archive_uri"]).read_bytes() == content, name
        stored = [p for p in env.problems(name) if p["severity"] == "reject"]
        assert {p["rule"] for p in stored} == {rule}, (name, stored)
        assert stored[0]["field"] == field, name
        if cell:
            assert stored[0]["cell"] == cell, name
    subjects = [m["Subject"] for m in env.mails()]
    assert sum("未通过校验" in s for s in subjects) == len(expected)
    assert sum("已收到" in s for s in subjects) == 1

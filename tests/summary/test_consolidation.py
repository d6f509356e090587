"""Friday consolidation and the reminder ladder against real warehouses and a real SMTP server."""

from __future__ import annotations

import io
import json
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from recruitment_month import config, reminders, schema, warehouse
from recruitment_month.reports import pipeline as reports
from recruitment_month.reports.fields import COUNT_KEYS, cumulative_key
from recruitment_month.summary import pipeline

CAMPAIGN = config.campaign()
TZ = CAMPAIGN.tz
WEEK1, WEEK2 = CAMPAIGN.weeks[0], CAMPAIGN.weeks[1]
UNITS = [u.code for u in config.units().units]


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ)


def report(unit: str, week: date, base: int, previous: dict | None = None, **overrides) -> dict:
    row = {
        "unit_code": unit,
        "week_ending": week.isoformat(),
        "contact_name": "李老师",
        "contact_phone": "010-1",
    }
    for i, key in enumerate(COUNT_KEYS):
        row[key] = base + i
        row[cumulative_key(key)] = base + i + (previous[cumulative_key(key)] if previous else 0)
    row["positions"] = row["employers"] * 20
    row["positions_cumulative"] = row["positions"] + (previous["positions_cumulative"] if previous else 0)
    row.update(overrides)
    return row


@pytest.fixture
def env(warehouse_url, mail_sink, tmp_path, monkeypatch):
    inbox = tmp_path / "inbox"
    monkeypatch.setenv("RECRUITMENT_INBOX", str(inbox))
    monkeypatch.setenv("RECRUITMENT_ARCHIVE", str(tmp_path / "archive"))
    engine = warehouse.engine(warehouse_url)

    class Env:
        runs = 0

        def put(self, unit, name, content: dict | bytes, landed: datetime):
            path = inbox / unit / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())
            import os

            os.utime(path, (landed.timestamp(), landed.timestamp()))

        def collect(self, moment):
            """What the DAG's catch-up task does in a run at ``moment``: the poll takes the run's time
            from the task's context, as under Airflow (files put later with earlier times still count
            as landed then, because these runs replay the campaign's past weeks)."""
            from airflow.sdk.execution_time.context import set_current_context

            self.runs += 1
            with set_current_context({"logical_date": moment}):
                return reports.catch_up(engine, run_id=f"r{self.runs}")

        def consolidate(self, moment):
            """A friday_consolidation run at ``moment``: versions, then the digests due, then delivery."""
            self.collect(moment)
            versions = pipeline.consolidate(engine, moment)
            self.digests = pipeline.digest(engine, moment)
            pipeline.deliver(engine)
            return versions

        def remind(self, moment):
            self.collect(moment)
            return reminders.run(engine, moment)["steps"]

        def mails(self, kind=None):
            msgs = mail_sink.messages()
            return [m for m in msgs if kind is None or m["X-Recruitment-Message-Key"].startswith(kind)]

    e = Env()
    e.engine = engine
    return e


def test_preliminary_summary_is_frozen_at_the_deadline(env):
    env.put("110000", "a.json", report("110000", WEEK1, 100), at(WEEK1, 10))
    env.put("120000", "b.json", report("120000", WEEK1, 200), at(WEEK1, 16, 59))
    env.put("130000", "c.json", report("130000", WEEK1, 300), at(WEEK1, 17, 5))  # late, already landed
    env.put("140000", "bad.json", report("140000", WEEK1, 50, positions="约300"), at(WEEK1, 12))
    versions = env.consolidate(at(WEEK1, 17, 30))  # the run started late: still frozen at 17:00
    assert versions == [{"week_ending": "2022-11-11", "version": 1, "kind": "preliminary"}]
    summary = pipeline.load_summary(env.engine, WEEK1, 1)
    status = {u.code: u.status for u in summary.units}
    assert status["110000"] == status["120000"] == "on_time"
    assert status["130000"] == "missing"  # landed after the deadline: not in the preliminary
    assert status["140000"] == "rejected"
    assert (summary.on_time, summary.late, summary.rejected, summary.missing) == (2, 0, 1, 29)
    assert summary.reporting_rate == pytest.approx(2 / 32)
    assert summary.national_week["job_fairs_online"] == 100 + 200
    with env.engine.connect() as conn:
        national = {
            r.measure: r.week_value
            for r in conn.execute(
                select(schema.mart_summary_national).where(schema.mart_summary_national.c.version == 1)
            )
        }
        units = (
            conn.execute(
                select(schema.mart_summary_unit).where(schema.mart_summary_unit.c.status == "on_time")
            )
            .mappings()
            .all()
        )
    assert national == summary.national_week
    assert sorted(u["unit_code"] for u in units) == ["110000", "120000"]
    (mail,) = env.mails("weekly_summary")
    assert "初步" in mail["Subject"]
    assert "第1周" in mail["Subject"]
    assert summary.data_docs_url
    assert summary.data_docs_url in mail.get_body(("html",)).get_content()


def test_rerunning_consolidation_writes_and_sends_nothing(env):
    env.put("110000", "a.json", report("110000", WEEK1, 100), at(WEEK1, 10))
    env.consolidate(at(WEEK1, 17))
    sent = len(env.mails())
    assert env.consolidate(at(WEEK1, 17)) == []
    assert env.consolidate(at(WEEK1, 18)) == []  # nothing new landed: no revision
    pipeline.deliver(env.engine)  # a cleared email task
    assert len(env.mails()) == sent


def test_a_late_report_yields_one_revised_summary_with_the_right_changes(env):
    env.put("110000", "a.json", report("110000", WEEK1, 100), at(WEEK1, 10))
    env.consolidate(at(WEEK1, 17))
    env.put("440000", "late.json", report("440000", WEEK1, 1000), at(WEEK1 + timedelta(days=1), 9))
    versions = env.consolidate(at(WEEK1 + timedelta(days=1), 9, 10))
    assert versions == [{"week_ending": "2022-11-11", "version": 2, "kind": "revised"}]
    assert env.consolidate(at(WEEK1 + timedelta(days=1), 10)) == []
    revised = pipeline.load_summary(env.engine, WEEK1, 2)
    assert {u.code: u.status for u in revised.units}["440000"] == "late"
    assert "广东省：未报送 → 逾期报送" in revised.changes
    assert "全国线上专场招聘会(场)本周：100 → 1,100" in revised.changes
    # stored after Saturday's 09:00 digest: mailed with Sunday's
    assert not [m for m in env.mails("weekly_summary") if "修订" in m["Subject"]]
    env.consolidate(at(WEEK1 + timedelta(days=2), 9))
    (mail,) = [m for m in env.mails("weekly_summary") if "修订" in m["Subject"]]
    assert mail["X-Recruitment-Message-Key"] == "weekly_summary/2022-11-11/digest/2022-11-13"
    html = mail.get_body(("html",)).get_content()
    assert "广东省（逾期报送）" in html
    assert "全国线上专场招聘会(场)本周：100 → 1,100" in html
    with env.engine.connect() as conn:
        kept = conn.execute(
            select(schema.mart_weekly_summary.c.version, schema.mart_weekly_summary.c.kind)
        ).all()
    assert sorted(kept) == [(1, "preliminary"), (2, "revised")]


def test_the_email_parses_and_its_attachment_equals_the_warehouse(env):
    import openpyxl

    for i, unit in enumerate(UNITS[:20]):
        env.put(unit, "r.json", report(unit, WEEK1, 100 + 10 * i), at(WEEK1, 9))
    env.consolidate(at(WEEK1, 17))
    (mail,) = env.mails("weekly_summary")
    raw = mail.as_bytes()
    assert b"Subject: =?utf-8?" in raw
    html = mail.get_body(("html",)).get_content()
    images = [p for p in mail.walk() if p.get_content_maintype() == "image"]
    assert images
    assert all(f"cid:{p['Content-ID'].strip('<>')}" in html for p in images)
    (attachment,) = [p for p in mail.iter_attachments() if p.get_filename().endswith(".xlsx")]
    book = openpyxl.load_workbook(io.BytesIO(attachment.get_content()), read_only=True)
    with env.engine.connect() as conn:
        national = {
            r.measure: (r.week_value, r.cumulative_value)
            for r in conn.execute(select(schema.mart_summary_national))
        }
    found = {}
    for sheet in book.worksheets:
        for row in sheet.iter_rows(values_only=True):
            for value in row:
                if isinstance(value, int | float):
                    found.setdefault(sheet.title, set()).add(int(value))
    everywhere = set().union(*found.values())
    for key, (week_value, cumulative_value) in national.items():
        assert week_value in everywhere, key
        assert cumulative_value in everywhere, key
        assert f"{week_value:,}" in html, key


def test_reminders_reach_exactly_the_units_without_an_accepted_report(env):
    env.put("110000", "a.json", report("110000", WEEK1, 100), at(WEEK1 - timedelta(days=1), 9))
    env.put(
        "120000", "bad.json", report("120000", WEEK1, 100, graduates="-5"), at(WEEK1 - timedelta(days=1), 9)
    )
    thursday = at(WEEK1 - timedelta(days=1), 17)
    sent = env.remind(thursday)
    (step,) = sent.values()
    assert step["units"] == [u for u in UNITS if u != "110000"]
    assert step["queued"] == 31
    assert len(env.mails("reminder/")) == 31
    # 130000 submits between the two steps: the Friday 15:00 reminder skips it
    env.put("130000", "c.json", report("130000", WEEK1, 100), at(WEEK1, 11))
    (step,) = env.remind(at(WEEK1, 15)).values()
    assert "130000" not in step["units"]
    assert "120000" in step["units"]
    assert len(step["units"]) == 30
    # the rejected unit's reminder says what was wrong
    rejected = [m for m in env.mails("reminder/") if m["To"] == "jyc-120000@example.org"]
    assert rejected
    assert "未通过校验" in rejected[-1]["Subject"]
    assert "-5" in rejected[-1].get_body(("plain",)).get_content()
    # the deadline step, then the follow-ups with the escalation to the ministry
    (step,) = env.remind(at(WEEK1, 17)).values()
    assert len(step["units"]) == 30
    env.put("120000", "fixed.json", report("120000", WEEK1, 100), at(WEEK1 + timedelta(days=1), 8))
    (step,) = env.remind(at(WEEK1 + timedelta(days=1), 10)).values()
    assert "120000" not in step["units"]
    assert len(step["units"]) == 29
    (escalation,) = env.mails("escalation/")
    text = escalation.get_body(("plain",)).get_content()
    assert escalation["To"] == "student-affairs@example.org"
    assert "29 个单位" in text
    assert "广东省（440000）" in text
    assert "天津市（120000）" not in text  # no longer outstanding: named only as having reported late
    assert "逾期报送 1 个：天津市" in text


def test_rerunning_reminders_sends_nothing_new_and_nothing_is_due_off_schedule(env):
    thursday = at(WEEK1 - timedelta(days=1), 17)
    env.remind(thursday)
    count = len(env.mails())
    again = env.remind(thursday)
    assert [step["queued"] for step in again.values()] == [0]
    assert len(env.mails()) == count
    assert env.remind(at(WEEK1 - timedelta(days=1), 12)) == {}
    assert env.remind(at(date(2023, 3, 3), 17)) == {}  # outside the campaign


def test_a_late_report_revises_only_its_own_week_and_an_identical_revision_nothing(env):
    first = report("110000", WEEK1, 100)
    env.put("110000", "w1.json", first, at(WEEK1, 9))
    env.put("110000", "w2.json", report("110000", WEEK2, 100, previous=first), at(WEEK2, 9))
    env.consolidate(at(WEEK1, 17))
    env.consolidate(at(WEEK2, 17))
    env.put("120000", "late-w1.json", report("120000", WEEK1, 100), at(WEEK2, 18))
    versions = env.consolidate(at(WEEK2, 18, 30))
    assert versions == [{"week_ending": WEEK1.isoformat(), "version": 2, "kind": "revised"}]
    # the same figures sent again (a new file, so a new revision) change no summary
    env.put(
        "110000",
        "w2-again.json",
        {**report("110000", WEEK2, 100, previous=first), "contact_name": "另一位老师"},
        at(WEEK2, 19),
    )
    assert env.consolidate(at(WEEK2, 19, 30)) == []


def test_a_stored_version_renders_in_beijing_time(env):
    env.put("110000", "a.json", report("110000", WEEK1, 100), at(WEEK1, 10))
    env.consolidate(at(WEEK1, 17))
    summary = pipeline.load_summary(env.engine, WEEK1, 1)
    assert summary.deadline == at(WEEK1, 17)
    assert summary.deadline.utcoffset() == timedelta(hours=8)
    (mail,) = env.mails("weekly_summary")
    text = mail.get_body(("plain",)).get_content()
    assert "17:00" in text
    assert "09:00" not in text


# --- Revision digest: at most one revised summary a week a day ------------------------------------

SAT, SUN, MON = (WEEK1 + timedelta(days=n) for n in (1, 2, 3))


def _summary_keys(env) -> list[str]:
    return [m["X-Recruitment-Message-Key"] for m in env.mails("weekly_summary")]


def _mailings(env) -> list[tuple]:
    with env.engine.connect() as conn:
        t = schema.mart_summary_mailing
        return conn.execute(
            select(t.c.message_key, t.c.version, t.c.base_version, t.c.sign_off).order_by(t.c.message_key)
        ).all()


@pytest.fixture
def revised_three_times(env):
    """The preliminary at the deadline, then three revisions on Saturday: two late reports and a
    correction of an on-time one."""
    first = report("110000", WEEK1, 100)
    env.put("110000", "a.json", first, at(WEEK1, 10))
    env.consolidate(at(WEEK1, 17))
    env.put("440000", "late.json", report("440000", WEEK1, 1000), at(SAT, 9, 30))
    env.consolidate(at(SAT, 10))
    env.put("120000", "late.json", report("120000", WEEK1, 200), at(SAT, 13, 30))
    env.consolidate(at(SAT, 14))
    env.put(
        "110000",
        "a-corrected.json",
        report("110000", WEEK1, 100, graduates=99, graduates_cumulative=99),
        at(SAT, 19, 30),
    )
    versions = env.consolidate(at(SAT, 20))
    assert versions == [{"week_ending": WEEK1.isoformat(), "version": 4, "kind": "revised"}]
    return env


def test_several_revisions_in_a_day_make_one_digest_with_the_latest_figures_and_every_change(
    revised_three_times,
):
    env = revised_three_times
    assert _summary_keys(env) == [f"weekly_summary/{WEEK1}/v1"]  # revisions are stored, not mailed
    env.consolidate(at(SUN, 9))
    assert env.digests == [
        {
            "week_ending": WEEK1.isoformat(),
            "version": 4,
            "since": 1,
            "key": f"weekly_summary/{WEEK1}/digest/{SUN}",
        }
    ]
    digest_mail = env.mails(f"weekly_summary/{WEEK1}/digest/")
    assert len(digest_mail) == 1
    mail = digest_mail[0]
    assert "修订第4版" in mail["Subject"]
    assert "已报3/32" in mail["Subject"]  # the latest figures
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    for body in (text, html):
        assert "与上次发送的版本（第1版）相比" in body
        assert "新报送单位（2个）" in body
        assert "广东省（逾期报送）" in body
        assert "天津市（逾期报送）" in body
        assert "已报送单位：1/32 → 3/32" in body
        assert "北京市（参与毕业生(人次)）" in body  # which figure changed, for whom
    # headline figures first, then the account of the changes, then the tables
    assert html.index('id="kpi-rates"') < html.index('id="digest"') < html.index('id="status"')
    assert _mailings(env) == [
        (f"weekly_summary/{WEEK1}/digest/{SUN}", 4, 1, "not_required"),
        (f"weekly_summary/{WEEK1}/v1", 1, None, "not_required"),
    ]


def test_no_digest_on_a_day_without_changes_and_a_rerun_sends_nothing(revised_three_times):
    env = revised_three_times
    env.consolidate(at(SUN, 9))
    sent = _summary_keys(env)
    env.consolidate(at(SUN, 9))  # the same run again
    env.consolidate(at(SUN, 15))
    env.consolidate(at(MON, 9))  # a day without changes
    pipeline.deliver(env.engine)
    assert env.digests == []
    assert _summary_keys(env) == sent
    assert len(sent) == 2


def test_a_version_stored_after_the_days_digest_waits_for_the_next_one(revised_three_times):
    env = revised_three_times
    env.consolidate(at(SUN, 9))
    env.put("130000", "late.json", report("130000", WEEK1, 300), at(SUN, 11))
    env.consolidate(at(SUN, 12))
    assert env.digests == []  # Sunday's digest went already
    env.consolidate(at(MON, 9))
    assert [(d["version"], d["since"]) for d in env.digests] == [(5, 4)]
    mail = env.mails(f"weekly_summary/{WEEK1}/digest/{MON}")[0]
    text = mail.get_body(("plain",)).get_content()
    assert "与上次发送的版本（第4版）相比" in text
    assert "河北省（逾期报送）" in text
    assert "广东省" not in text.split("一、报送情况")[0]  # already mailed on Sunday


def test_a_digest_after_an_outage_goes_once(revised_three_times, closed_port, monkeypatch, mail_sink):
    env = revised_three_times
    up = json.dumps(mail_sink.connection)
    down = json.dumps({**mail_sink.connection, "port": closed_port})
    # No run at all on Sunday (Airflow down); Monday 10:00 the mail server is down too.
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", down)
    from recruitment_month.notifications import DeliveryError

    with pytest.raises(DeliveryError):
        env.consolidate(at(MON, 10))
    assert [(d["version"], d["since"]) for d in env.digests] == [(4, 1)]
    with pytest.raises(DeliveryError):
        env.consolidate(at(MON, 11))
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", up)
    env.consolidate(at(MON, 12))
    env.consolidate(at(MON + timedelta(days=1), 9))
    assert _summary_keys(env) == [f"weekly_summary/{WEEK1}/v1", f"weekly_summary/{WEEK1}/digest/{MON}"]

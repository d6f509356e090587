"""A whole demo campaign, replayed through the product on SQLite with real mail: what the provinces get.

The demo's inbox is fed as its clock moves (every reminder step and deadline of the eight weeks); at
each stop the inbox is polled, the files processed and answered, and the due reminders sent, as the
``provincial_reports`` and ``report_reminders`` DAGs do. Then every message a provincial officer got is
read back from the SMTP sink.
"""

from __future__ import annotations

import io
import json
import os
from collections import Counter, defaultdict
from datetime import UTC, datetime
from email import message_from_bytes, policy

import pytest
from sqlalchemy import select

from recruitment_devkit import demo
from recruitment_devkit.demo_inbox import plan_campaign, render
from recruitment_devkit.mailsink import MailSink
from recruitment_month import config, reminders, schema, status, warehouse
from recruitment_month.reports import pipeline
from recruitment_month.reports.pipeline import current_reports

# The replay processes some 300 files at 40 stops of the campaign's clock: minutes, not seconds.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


def _feed(inbox, manifest, after, until, campaign) -> None:
    """Put the demo files landed in (after, until] into the inbox, each with its landing time."""
    for file in manifest.files():
        if (after is None or file.landed_at > after) and file.landed_at <= until:
            target = inbox / file.unit_code / file.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(render(file, campaign))
            os.utime(target, (file.landed_at.timestamp(), file.landed_at.timestamp()))


@pytest.fixture(scope="module")
def campaign_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("campaign")
    url = f"sqlite:///{root / 'warehouse.db'}"
    campaign = config.campaign()
    manifest = plan_campaign(campaign=campaign)
    with pytest.MonkeyPatch.context() as mp, MailSink(root / "mail", port=0) as sink:
        mp.setenv(
            "AIRFLOW_CONN_WAREHOUSE", json.dumps({"conn_type": "sqlite", "host": str(root / "warehouse.db")})
        )
        mp.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(sink.connection))
        mp.setenv("RECRUITMENT_INBOX", str(root / "inbox"))
        mp.setenv("RECRUITMENT_ARCHIVE", str(root / "archive"))
        warehouse.migrate(url)
        warehouse.load_reference_data(url)
        engine = warehouse.engine(url)
        previous = None
        for number, tick in enumerate(demo._ticks(campaign), start=1):
            _feed(root / "inbox", manifest, previous, tick.at, campaign)
            previous = tick.at
            run_id = f"tick_{number}"
            pipeline.collect(engine, run_id=run_id, polled_at=tick.at)
            pipeline.run_process(engine, run_id=run_id)
            pipeline.notify(engine)
            reminders.run(engine, tick.at)
        mails = [message_from_bytes(p.read_bytes(), policy=policy.default) for p in sink.files()]
        yield {"engine": engine, "campaign": campaign, "manifest": manifest, "mails": mails}


def _provincial(mails) -> dict[str, list]:
    """Each provincial officer's messages."""
    contacts = {c for u in config.units().units for c in u.contacts}
    by_recipient = defaultdict(list)
    for mail in mails:
        for to in str(mail["To"]).split(","):
            if to.strip() in contacts:
                by_recipient[to.strip()].append(mail)
    return by_recipient


def _body(mail) -> str:
    return mail.get_body(("plain",)).get_content()


def _late_corrections_of_on_time_weeks(manifest) -> list:
    """Reports whose first file landed on time and whose correction landed after the deadline."""
    return [
        r
        for r in manifest.reports
        if r.status == "revised" and r.files[0].landed_at <= r.deadline < r.files[1].landed_at
    ]


def test_no_provincial_officer_gets_the_same_message_twice(campaign_run):
    by_recipient = _provincial(campaign_run["mails"])
    assert len(by_recipient) == 32
    repeated = {}
    for to, mails in by_recipient.items():
        bodies = Counter(_body(m) for m in mails)
        twice = [m["Subject"] for m in mails if bodies[_body(m)] > 1]
        if twice:
            repeated[to] = twice
    assert repeated == {}


def test_no_provincial_officer_gets_two_messages_with_one_subject(campaign_run):
    shared = {}
    for to, mails in _provincial(campaign_run["mails"]).items():
        subjects = [str(m["Subject"]) for m in mails]
        twice = sorted({s for s in subjects if subjects.count(s) > 1})
        if twice:
            shared[to] = twice
    assert shared == {}


def test_every_provincial_message_is_addressed_to_the_units_education_authority(campaign_run):
    by_code = {c: u for u in config.units().units for c in u.contacts}
    for to, mails in _provincial(campaign_run["mails"]).items():
        for mail in mails:
            assert _body(mail).startswith(f"{by_code[to].authority}：\n"), mail["Subject"]


def test_every_reminder_step_says_which_it_is_in_subject_and_first_line(campaign_run):
    labels = {"截止前一天", "今天17:00截止", "已逾期", "逾期第1天", "逾期第3天"}
    seen = set()
    for mails in _provincial(campaign_run["mails"]).values():
        for mail in mails:
            kind = mail["X-Recruitment-Message-Key"].split("/")[0]
            if kind != "reminder":
                continue
            label = next(label for label in labels if f"【{label}】" in mail["Subject"])
            lead = _body(mail).split("\n")[2]
            assert lead.startswith(f"【{label}】"), (mail["Subject"], lead)
            seen.add(label)
    assert seen == labels


def test_a_late_correction_keeps_the_week_on_time_everywhere(campaign_run):
    from openpyxl import load_workbook

    from recruitment_month.summary import content as summary_content
    from recruitment_month.summary.compute import compute
    from recruitment_month.summary.workbook import workbook_bytes

    campaign, engine = campaign_run["campaign"], campaign_run["engine"]
    corrections = _late_corrections_of_on_time_weeks(campaign_run["manifest"])
    assert corrections, "the demo campaign has corrections landed after the deadline"
    units = config.units().by_code()
    receipts = {
        m["Subject"]: m
        for m in campaign_run["mails"]
        if m["X-Recruitment-Message-Key"].startswith("receipt/")
    }
    now = datetime.now(UTC)
    with engine.connect() as conn:
        codes = list(units)
        current = current_reports(conn, campaign.weeks[0], campaign.weeks[-1])
        weeks = {w: status.week_statuses(conn, campaign, w, now, codes) for w in campaign.weeks}
        for report in corrections:
            unit, week = units[report.unit_code], report.week_ending
            assert weeks[week][unit.code].status == status.ON_TIME
            # the receipt
            (receipt,) = [
                m
                for s, m in receipts.items()
                if s.startswith(f"【校园招聘月】{unit.name}")
                and "更正第2版" in s
                and f"截至{week.year}年{week.month}月{week.day}日" in s
            ]
            assert "本周仍按按时报送计" in receipt["Subject"]
            text = _body(receipt)
            assert "报送状态：按时报送" in text
            assert "逾期" not in text
            # the summary and its workbook
            summary = compute(conn, week, now)
            (row,) = [u for u in summary.units if u.code == unit.code]
            assert row.status == status.ON_TIME
            book = load_workbook(io.BytesIO(workbook_bytes(summary_content.build(summary))))
            cells = [
                [str(c.value) for c in line if c.value is not None]
                for sheet in book.worksheets
                for line in sheet.iter_rows()
            ]
            statuses = {v for line in cells if unit.name in line for v in line if v in status.LABELS.values()}
            assert statuses == {"按时报送"}, (unit.name, week, statuses)
    # the demo's closing table counts them on time too
    table = demo.closing_table(campaign, weeks, current)
    for week in campaign.weeks:
        on_time = sum(w.status == status.ON_TIME for w in weeks[week].values())
        (line,) = [line for line in table.splitlines() if line.startswith(str(week))]
        assert int(line.split()[1]) == on_time


def test_the_receipt_of_a_report_landed_a_second_late_shows_the_seconds(campaign_run):
    first_late = min(
        (r.files[0] for r in campaign_run["manifest"].reports if r.status == "late"),
        key=lambda f: f.landed_at,
    )
    deadline = campaign_run["campaign"].deadline(first_late.week_ending)
    assert (first_late.landed_at - deadline).total_seconds() == 1
    with campaign_run["engine"].connect() as conn:
        file_id = conn.execute(
            select(schema.core_report.c.file_id).where(
                schema.core_report.c.unit_code == first_late.unit_code,
                schema.core_report.c.week_ending == first_late.week_ending,
            )
        ).scalar_one()
    (receipt,) = [m for m in campaign_run["mails"] if m["X-Recruitment-Message-Key"] == f"receipt/{file_id}"]
    text = _body(receipt)
    day = deadline.astimezone(campaign_run["campaign"].tz)
    assert f"收到时间（北京时间）：{day.year}年{day.month}月{day.day}日 17:00:01" in text
    assert f"报送截止时间：{day.year}年{day.month}月{day.day}日 17:00:00" in text
    assert "报送状态：逾期报送" in text

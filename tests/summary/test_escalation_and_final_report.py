"""The escalation to the ministry and the campaign's final report, against real warehouses (SQLite and
PostgreSQL) and a real SMTP server: whom to phone, the reminders the ledger says were sent, the
"其余单位已按要求报送" sentence only when true; the final report's totals are the sum of the weeks, and
it is sent once however often its task runs."""

from __future__ import annotations

import io
import json
import os
from datetime import date, datetime, timedelta

import openpyxl
import pytest

from recruitment_month import config, reminders, warehouse
from recruitment_month.reports import pipeline as reports
from recruitment_month.reports.fields import COUNT_KEYS, cumulative_key
from recruitment_month.settings import settings
from recruitment_month.summary import final

CAMPAIGN = config.campaign()
TZ = CAMPAIGN.tz
WEEKS = CAMPAIGN.weeks
WEEK1, WEEK2 = WEEKS[0], WEEKS[1]
UNITS = [u.code for u in config.units().units]


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ)


def report(unit: str, week: date, base: int, **overrides) -> dict:
    row = {
        "unit_code": unit,
        "week_ending": week.isoformat(),
        "contact_name": "李老师",
        "contact_phone": "010-1",
    }
    for i, key in enumerate(COUNT_KEYS):
        row[key] = base + i
        row[cumulative_key(key)] = (base + i) * (WEEKS.index(week) + 1)
    row["positions"] = row["employers"] * 20
    row["positions_cumulative"] = row["employers_cumulative"] * 20
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

        def put(self, unit: str, name: str, content: dict, landed: datetime) -> None:
            path = inbox / unit / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(json.dumps(content, ensure_ascii=False).encode())
            os.utime(path, (landed.timestamp(), landed.timestamp()))

        def collect(self, moment: datetime) -> None:
            from airflow.sdk.execution_time.context import set_current_context

            self.runs += 1
            with set_current_context({"logical_date": moment}):
                reports.catch_up(engine, run_id=f"r{self.runs}")

        def remind(self, moment: datetime) -> dict:
            self.collect(moment)
            return reminders.run(engine, moment)["steps"]

        def mails(self, prefix: str) -> list:
            return [m for m in mail_sink.messages() if m["X-Recruitment-Message-Key"].startswith(prefix)]

    e = Env()
    e.engine = engine
    return e


def _bodies(mail) -> tuple[str, str]:
    return mail.get_body(("plain",)).get_content(), mail.get_body(("html",)).get_content()


def test_the_escalation_names_whom_to_phone_and_the_reminders_sent(env):
    # 120000 reported week 1 (its contact is in that report) and nothing for week 2; 130000 never reported.
    env.put(
        "120000",
        "w1.json",
        report("120000", WEEK1, 10, contact_name="张老师", contact_phone="022-23456789"),
        at(WEEK1, 9),
    )
    for code in UNITS[3:]:
        env.put(code, "w2.json", report(code, WEEK2, 10), at(WEEK2, 9))
    for moment in (at(WEEK2 - timedelta(days=1), 17), at(WEEK2, 15), at(WEEK2, 17)):
        env.remind(moment)
    (step,) = env.remind(at(WEEK2 + timedelta(days=1), 10)).values()
    assert step["units"] == ["110000", "120000", "130000"]
    (saturday,) = env.mails("escalation/")
    text, html = _bodies(saturday)
    assert "督办（第1次）" in saturday["Subject"]
    for body in (text, html):
        assert "张老师" in body
        assert "022-23456789" in body  # from its latest report
        assert "000-0000-0000" in body  # 130000: the units file's placeholder
        assert "已逾期 <b>1</b> 天" in body or "已逾期 1 天" in body
        assert "其余单位已按要求报送" in body  # every other unit reported on time
    assert 'href="tel:022-23456789"' in html
    assert "此前已发送提醒 3 次" in text
    assert "截止前提醒（第1次）" in text
    assert "截止时提醒" in text

    # 110000 reports late; on Monday the others are no longer all on time
    env.put("110000", "late.json", report("110000", WEEK2, 10), at(WEEK2 + timedelta(days=2), 9))
    (step,) = env.remind(at(WEEK2 + timedelta(days=3), 10)).values()
    assert step["units"] == ["120000", "130000"]
    monday = [m for m in env.mails("escalation/") if "第2次" in m["Subject"]]
    assert len(monday) == 1
    text, html = _bodies(monday[0])
    for body in (text, html):
        assert "其余单位已按要求报送" not in body
        assert "逾期报送 1 个：北京市" in body
        assert "北京市（110000）" not in body
    assert "已逾期 3 天" in text
    assert "此前已发送提醒 4 次" in text
    assert "截止后催报（第1次）" in text


def test_the_escalation_is_not_sent_twice(env):
    saturday = at(WEEK1 + timedelta(days=1), 10)
    env.remind(saturday)
    env.remind(saturday)
    assert len(env.mails("escalation/")) == 1


def _sheet_rows(book, name: str) -> list[dict]:
    rows = list(book[name].iter_rows(values_only=True))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def test_the_final_report_totals_are_the_sum_of_the_weeks_and_it_is_sent_once(env):
    last = WEEKS[-1]
    env.put("110000", "w1.json", report("110000", WEEK1, 100), at(WEEK1, 9))
    env.put("110000", "w1-fix.json", report("110000", WEEK1, 150), at(WEEK1, 12))  # a correction
    env.put("120000", "w1.json", report("120000", WEEK1, 200), at(WEEK1 + timedelta(days=1), 9))  # late
    env.put("110000", "w2.json", report("110000", WEEK2, 300), at(WEEK2, 9))
    env.put("130000", "last.json", report("130000", last, 400, highlights="=1+1"), at(last, 9))
    env.collect(at(last, 18))
    assert final.run(env.engine, CAMPAIGN.final_report_at - timedelta(hours=1)) == {"due": False, "queued": 0}
    assert env.mails("final_report/") == []

    first = final.run(env.engine, CAMPAIGN.final_report_at)
    assert first["queued"] == 1
    (mail,) = env.mails("final_report/")
    assert "总结" in mail["Subject"]
    assert final.run(env.engine, CAMPAIGN.final_report_at + timedelta(hours=1))["queued"] == 0
    assert final.run(env.engine, CAMPAIGN.final_report_at)["queued"] == 0
    assert len(env.mails("final_report/")) == 1

    (attachment,) = list(mail.iter_attachments())
    book = openpyxl.load_workbook(io.BytesIO(attachment.get_content()))
    trend = _sheet_rows(book, "逐周趋势")
    weeks, total = trend[:-1], trend[-1]
    assert len(weeks) == len(WEEKS)
    assert total["周次"] == "合计"
    units = _sheet_rows(book, "各单位合计")
    unit_rows, national = units[:-1], units[-1]
    expected_positions = (150 + 3) * 20 + (200 + 3) * 20 + (300 + 3) * 20 + (400 + 3) * 20
    for label in ("提供岗位(个)", "参与毕业生(人次)", "线上专场招聘会(场)"):
        assert total[label] == sum(w[label] for w in weeks)
        assert national[f"{label}合计"] == total[label]
        assert national[f"{label}合计"] == sum(u[f"{label}合计"] for u in unit_rows)
    assert total["提供岗位(个)"] == expected_positions
    beijing = next(u for u in unit_rows if u["单位代码"] == "110000")
    assert (beijing["按时报送(周)"], beijing["更正(次)"], beijing["未报送(周)"]) == (2, 1, len(WEEKS) - 2)
    tianjin = next(u for u in unit_rows if u["单位代码"] == "120000")
    assert tianjin["逾期报送(周)"] == 1
    record = {r["单位代码"]: r for r in _sheet_rows(book, "报送记录")}
    assert (record["110000"]["第1周"], record["120000"]["第1周"], record["130000"]["第1周"]) == (
        "按时",
        "逾期",
        "未报",
    )
    texts = book["典型做法与问题"]
    formula = [c for row in texts.iter_rows(min_row=2) for c in row if c.value == "=1+1"]
    assert len(formula) == 1
    assert formula[0].data_type == "s"
    text, html = _bodies(mail)
    assert f"{expected_positions:,}" in html
    assert f"{expected_positions:,}" in text
    assert "对数据有疑问请联系数据组" in html


def test_the_final_report_comes_after_the_last_follow_up():
    last = WEEKS[-1]
    follow_ups = [r.at(last, TZ) for r in CAMPAIGN.reminders.follow_up]
    assert CAMPAIGN.final_report_at > max(follow_ups)


def test_a_final_report_before_the_last_follow_up_is_a_configuration_error(tmp_path):
    import yaml

    data = yaml.safe_load(settings().campaign_file.read_text(encoding="utf-8"))
    data["campaign"]["final_report"] = {"day_offset": 1, "time": "09:00"}  # before Saturday 10:00
    path = tmp_path / "campaign.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(config.ConfigError, match="final_report is not after the last week's last follow-up"):
        config.load_file(path, config._CampaignFile)

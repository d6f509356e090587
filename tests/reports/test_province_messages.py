"""The status rule (first accepted report decides the week) and what each message to a province says."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import test_pipeline
from test_pipeline import WEEK1, as_csv, as_json, beijing, put, record

from recruitment_month import config, reminders, status
from recruitment_month.dates import cn_date, cn_moment
from recruitment_month.summary.compute import compute

env = test_pipeline.env  # the same fixture: a migrated warehouse, an inbox and a mail sink

TZ = config.campaign().tz
DEADLINE = config.campaign().deadline(WEEK1)


# The rule itself.


def test_the_first_accepted_report_decides_the_week():
    assert status.decide(DEADLINE, DEADLINE) == status.ON_TIME
    assert status.decide(DEADLINE + timedelta(seconds=1), DEADLINE) == status.LATE
    assert status.decide(None, DEADLINE, any_rejected=True) == status.REJECTED
    assert status.decide(None, DEADLINE) == status.MISSING
    # whatever was rejected, an accepted report decides
    assert status.decide(DEADLINE - timedelta(hours=1), DEADLINE, any_rejected=True) == status.ON_TIME


# The rule over a real warehouse, with the pipeline deciding.


def _week(env, code: str) -> status.UnitWeek:
    with env.engine.connect() as conn:
        return status.week_statuses(conn, config.campaign(), WEEK1, datetime.now(UTC), [code])[code]


def _run_at(env, moment: datetime) -> None:
    """One provincial_reports run whose poll stands at ``moment`` (as a run of that logical date)."""
    from recruitment_month.reports import pipeline

    env.runs += 1
    run_id = f"test_run_{env.runs}"
    pipeline.collect(env.engine, run_id=run_id, polled_at=moment)
    pipeline.run_process(env.engine, run_id=run_id)
    pipeline.notify(env.engine)


def _mail_to(env, code: str) -> list:
    return [m for m in env.mails() if m["To"] == f"jyc-{code}@example.org"]


def test_an_on_time_report_corrected_after_the_deadline_stays_on_time(env):
    first = record(base=100)
    put(env.inbox, "140000", "周报.json", as_json(dict(first, unit_code="140000")), beijing(WEEK1, 16, 5))
    _run_at(env, beijing(WEEK1, 16, 10))
    corrected = dict(first, unit_code="140000", positions=first["positions"] + 500)
    corrected["positions_cumulative"] = first["positions_cumulative"] + 500
    landed = datetime(2022, 11, 12, 2, 19, tzinfo=TZ)
    put(env.inbox, "140000", "周报_更正.json", as_json(corrected), landed)
    _run_at(env, landed + timedelta(minutes=5))
    week = _week(env, "140000")
    assert week.status == status.ON_TIME
    assert week.first_accepted_at == beijing(WEEK1, 16, 5).astimezone(UTC)
    with env.engine.connect() as conn:
        (row,) = [u for u in compute(conn, WEEK1, datetime.now(UTC)).units if u.code == "140000"]
    assert row.status == status.ON_TIME
    first_receipt, correction = sorted(_mail_to(env, "140000"), key=lambda m: "更正" in m["Subject"])
    assert first_receipt["Subject"] != correction["Subject"]
    assert "更正第2版" in correction["Subject"]
    assert "本周仍按按时报送计" in correction["Subject"]
    text = correction.get_body(("plain",)).get_content()
    html = correction.get_body(("html",)).get_content()
    assert text.startswith("山西省教育厅：\n")
    assert "首份周报收到时间（北京时间）：2022年11月11日 16:05" in text
    assert "本次更正收到时间（北京时间）：2022年11月12日 02:19" in text
    assert "报送状态：按时报送" in text
    # what changed, and only that
    before, after = f"{first['positions']:,}", f"{first['positions'] + 500:,}"
    assert f"- 提供岗位(个)本周：{before} → {after}" in text
    assert "提供岗位(个)累计" in text
    assert "参会用人单位(家)本周：" not in text
    assert before in html
    assert after in html


def test_rejected_then_accepted_after_the_deadline_is_late(env):
    put(env.inbox, "110000", "bad.csv", as_csv(record(positions="约300")), beijing(WEEK1, 10))
    _run_at(env, beijing(WEEK1, 10, 5))
    assert _week(env, "110000").status == status.REJECTED
    put(env.inbox, "110000", "good.csv", as_csv(record()), beijing(WEEK1, 18))
    _run_at(env, beijing(WEEK1, 18, 5))
    assert _week(env, "110000").status == status.LATE
    receipt = next(m for m in _mail_to(env, "110000") if "已收到" in m["Subject"])
    assert "（逾期报送）" in receipt["Subject"]
    assert "更正" not in receipt["Subject"]


def test_only_rejected_files_leave_the_week_rejected_and_nothing_leaves_it_missing(env):
    put(env.inbox, "110000", "bad.csv", as_csv(record(positions="约300")), beijing(WEEK1, 10))
    env.run()
    week = _week(env, "110000")
    assert week.status == status.REJECTED
    assert "提供岗位" in week.note
    assert _week(env, "120000") == status.UnitWeek(status.MISSING)


def test_two_rejected_files_of_one_week_get_notices_with_their_own_subjects(env):
    put(env.inbox, "110000", "周报.csv", as_csv(record(positions="约300")), beijing(WEEK1, 10))
    _run_at(env, beijing(WEEK1, 10, 5))
    put(env.inbox, "110000", "周报(1).csv", as_csv(record(graduates="-5")), beijing(WEEK1, 11, 30))
    _run_at(env, beijing(WEEK1, 11, 35))
    put(env.inbox, "110000", "周报.csv", as_csv(record(unit_code="", week_ending="")), beijing(WEEK1, 12))
    _run_at(env, beijing(WEEK1, 12, 5))
    subjects = sorted(m["Subject"] for m in _mail_to(env, "110000"))
    assert len(set(subjects)) == 3
    assert all("未通过校验" in s for s in subjects)
    assert any("“周报(1).csv”（11月11日 11:30收到）" in s for s in subjects)
    # a file whose week cannot be read is named, not called 本周
    assert not any("本周" in s for s in subjects)


# Formatting.


def test_official_dates_have_no_zero_padding():
    assert cn_date(date(2022, 12, 2)) == "2022年12月2日"
    assert cn_date(date(2022, 11, 8), year=False) == "11月8日"
    moment = datetime(2022, 11, 8, 17, 0, tzinfo=TZ)
    assert cn_moment(moment, TZ, year=False) == "11月8日 17:00"
    assert cn_moment(moment.astimezone(UTC), TZ) == "2022年11月8日 17:00"


@pytest.mark.parametrize(
    ("offset", "shown"),
    [
        (timedelta(seconds=1), "17:00:01"),
        (timedelta(seconds=-59), "16:59:01"),
        (timedelta(seconds=60), "17:01"),
        (timedelta(hours=-3), "14:00"),
    ],
)
def test_seconds_are_shown_within_a_minute_of_the_deadline(offset, shown):
    assert cn_moment(DEADLINE + offset, TZ, near=DEADLINE).endswith(f"日 {shown}")


# Reminders.


def test_each_reminder_step_of_a_week_names_itself_and_reads_differently():
    campaign = config.campaign()
    unit = config.units().by_code()["650000"]
    week_steps = [s for s in reminders.steps(campaign) if s.week == WEEK1]
    labels = [s.label(campaign) for s in week_steps]
    assert labels == ["截止前一天", "今天17:00截止", "已逾期", "逾期第1天", "逾期第3天"]
    texts = [reminders.step_text(s, unit, campaign, rejected=False) for s in week_steps]
    for label, words in zip(labels, texts, strict=True):
        assert f"【{label}】" in words.subject
        assert words.lead.startswith(f"【{label}】")
    assert len({t.subject for t in texts}) == len(texts)
    assert len({t.lead for t in texts}) == len(texts)
    mails = reminders.mails_for(week_steps[0], {"650000": None}, campaign, week_steps[0].at)
    assert mails[0].text.startswith("新疆维吾尔自治区教育厅：\n")
    assert "2022年11月11日 17:00" in mails[0].text


# Addressees.


def test_every_unit_has_its_education_authority():
    units = config.units().by_code()
    assert len(units) == 32
    assert units["110000"].authority == "北京市教育委员会"
    assert units["500000"].authority == "重庆市教育委员会"
    assert units["130000"].authority == "河北省教育厅"
    assert units["450000"].authority == "广西壮族自治区教育厅"
    assert units["660000"].authority == "新疆生产建设兵团教育局"
    assert all(u.authority.startswith(u.name) for u in units.values())


# A receipt's warnings.


def test_warnings_sit_in_an_amber_box_at_the_top_with_the_flagged_value():
    from recruitment_month.problems import Problem, Severity
    from recruitment_month.reports.fields import COUNT_KEYS, RECORD_KEYS, cumulative_key
    from recruitment_month.reports.messages import for_outcome
    from recruitment_month.reports.pipeline import FileOutcome

    campaign = config.campaign()
    rec = dict.fromkeys(RECORD_KEYS)
    for i, key in enumerate(COUNT_KEYS):
        rec[key], rec[cumulative_key(key)] = 100 + i, 300 + i
    rec["positions"], rec["positions_cumulative"] = 28000, 90000
    finding = (
        "“提供岗位(个)本周”为28,000，远高于本单位此前各周（通常为2,600–3,100），请核实是否多填或少填了位数。"
    )
    warning = Problem("outlier_own_history", Severity.WARN, finding, "positions", "28000")
    outcome = FileOutcome(
        "440000/x", "440000", "周报.xlsx", beijing(WEEK1, 11), "accepted", "440000", WEEK1, 1, "on_time"
    )
    outcome.problems, outcome.record = [warning], rec
    (mail,) = for_outcome(outcome, campaign, config.units().by_code())
    assert mail.subject.endswith("，1处数据请核实")
    assert mail.text.startswith("广东省教育厅：\n")
    assert f"1. 提供岗位(个)本周（报送值 28,000）：{finding}" in mail.text
    box = mail.html.index("#fff8e1")
    assert box < mail.html.index(finding) < mail.html.index("文件名")
    assert "远高于" in mail.html

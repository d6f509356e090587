"""The ``.xlsx`` attachment: every table of the email as a sheet, formatted for Excel, with the same
numbers as the summary."""

from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from recruitment_month.reports.fields import BY_KEY, COUNT_KEYS, display_name
from recruitment_month.summary.model import STATUS_LABELS

BEIJING = ZoneInfo("Asia/Shanghai")
SHEETS = [
    "概览",
    "报送情况",
    "全国汇总",
    "分省数据",
    "质量提示",
    "招聘平台",
    "平台分省",
    "行业",
    "核对",
    "趋势",
    "典型做法与问题",
]


@pytest.fixture(scope="module")
def workbook(preliminary_mail):
    return openpyxl.load_workbook(io.BytesIO(preliminary_mail.attachments[0].content))


def records(sheet) -> list[dict]:
    rows = list(sheet.iter_rows(values_only=True))
    header = rows[0]
    return [dict(zip(header, row, strict=True)) for row in rows[1:]]


def test_every_table_has_its_sheet(workbook):
    assert workbook.sheetnames == SHEETS


def test_sheets_are_formatted_for_excel(workbook):
    for sheet in workbook.worksheets:
        header = sheet[1]
        assert all(c.font.bold for c in header if c.value), sheet.title
        assert sheet.freeze_panes in ("A2", "B2", "C2", "D2"), sheet.title
        assert sheet.print_title_rows == "$1:$1"
        for letter, dim in sheet.column_dimensions.items():
            assert 6 <= dim.width <= 80, (sheet.title, letter)
        if sheet.title != "概览":
            assert sheet.auto_filter.ref, sheet.title
            assert sheet.auto_filter.ref.startswith("A1:"), sheet.title
    national = workbook["全国汇总"]
    assert national["C2"].number_format == "#,##0"
    assert national["F2"].number_format.startswith('"↑"0.0%')
    assert workbook["招聘平台"]["E2"].number_format == "0.0%"
    assert workbook["报送情况"]["D2"].number_format == "yyyy-mm-dd hh:mm"
    # The total row stays out of the filtered range, so sorting never moves it.
    units = workbook["分省数据"]
    assert units.auto_filter.ref.endswith("33")
    assert units["B34"].value == "全国合计"


def test_overview(workbook, preliminary):
    s = preliminary
    values = {row[0]: row[1] for row in workbook["概览"].iter_rows(min_row=2, values_only=True)}
    assert values["报送率"] == pytest.approx(s.reporting_rate)
    assert values["按时率"] == pytest.approx(s.on_time_rate)
    assert (values["应报单位数"], values["已报单位数"], values["按时报送"]) == (32, 28, 28)
    assert (values["逾期报送"], values["未报送"], values["未通过校验"]) == (0, 1, 3)
    assert values["未报送单位"] == "辽宁省"
    assert values["提供岗位（个）本周"] == s.national_week["positions"]
    assert values["提供岗位（个）累计"] == s.national_cumulative["positions"]
    # Excel keeps no zone: a cell holds the Beijing wall time
    assert values["报送截止时间（北京时间）"].replace(tzinfo=BEIJING) == datetime(
        2022, 11, 18, 17, 0, tzinfo=BEIJING
    )
    assert values["招聘平台招聘人数（人）"] == s.feeds.openings


def test_status_sheet(workbook, preliminary, sample):
    rows = records(workbook["报送情况"])
    assert [r["单位代码"] for r in rows] == [u.code for u in preliminary.units]
    assert [r["报送状态"] for r in rows] == [STATUS_LABELS[u.status] for u in preliminary.units]
    # Excel keeps no zone: a cell holds the Beijing wall time the inbox's file landed at
    for row in rows:
        report = sample.manifest.report(row["单位代码"], preliminary.week_ending)
        landed = [
            f.landed_at for f in report.files if f.expect == "accepted" and f.landed_at <= report.deadline
        ]
        want = landed[-1].astimezone(BEIJING) if landed else None
        cell = row["收到时间（北京时间）"]
        assert (cell.replace(tzinfo=BEIJING) if cell else None) == want, row["单位"]


def test_national_sheet(workbook, preliminary):
    s = preliminary
    rows = records(workbook["全国汇总"])
    assert [r["指标代码"] for r in rows] == list(COUNT_KEYS)
    for row in rows:
        key = row["指标代码"]
        assert row["指标"] == BY_KEY[key].header
        assert (row["本周"], row["累计"], row["上周"]) == (
            s.national_week[key],
            s.national_cumulative[key],
            s.previous_week[key],
        )
        assert row["环比"] == pytest.approx(
            (s.national_week[key] - s.previous_week[key]) / s.previous_week[key]
        )


def test_units_sheet(workbook, preliminary):
    s = preliminary
    rows = records(workbook["分省数据"])
    total = rows.pop()
    assert total["单位"] == "全国合计"
    for unit, row in zip(s.units, rows, strict=True):
        assert row["单位代码"] == unit.code
        assert row["报送状态"] == STATUS_LABELS[unit.status]
        for key in COUNT_KEYS:
            assert row[display_name(key)] == (unit.week[key] if unit.reported else None)
            assert row[display_name(f"{key}_cumulative")] == unit.cumulative.get(key)
    for key in COUNT_KEYS:
        assert (
            total[display_name(key)] == s.national_week[key] == sum(r[display_name(key)] or 0 for r in rows)
        )
        assert total[display_name(f"{key}_cumulative")] == s.national_cumulative[key]


def test_warning_feed_and_crosscheck_sheets(workbook, preliminary):
    s = preliminary
    warnings = records(workbook["质量提示"])
    none = [("本周已报送数据未发现需要核实的问题。", None, None)]  # the sheet's one row when there is none
    assert [(w["单位代码"], w["规则代码"], w["说明"]) for w in warnings] == (
        [(w.unit_code, w.rule, w.message) for w in s.warnings] or none
    )
    platforms = records(workbook["招聘平台"])
    total = platforms.pop()
    assert [p["招聘人数(人)"] for p in platforms] == [p["openings"] for p in s.feeds.by_platform]
    assert (total["新发布岗位信息(条)"], total["招聘人数(人)"]) == (s.feeds.new_postings, s.feeds.openings)
    provinces = records(workbook["平台分省"])
    # one row per province the week's postings name (a small province may have none that week)
    assert sorted(p["单位代码"] for p in provinces) == sorted(r["unit_code"] for r in s.feeds.by_province)
    assert 28 <= len(provinces) <= 32
    assert sum(p["招聘人数(人)"] for p in provinces) == sum(r["openings"] for r in s.feeds.by_province)
    industries = records(workbook["行业"])
    assert {i["行业"] for i in industries if i["通知明确的重点领域"] == "是"} == {
        r["industry"] for r in s.feeds.by_industry if r["key_industry"]
    }
    assert sum(i["招聘人数占比"] for i in industries) == pytest.approx(1.0)
    cross = records(workbook["核对"])
    assert [(c["单位代码"], c["省报提供岗位(个)"], c["平台招聘人数(人)"], c["提示"]) for c in cross] == [
        (c.unit_code, c.reported_positions, c.feed_openings, c.flag) for c in s.crosscheck
    ]
    # Excel keeps 15 significant digits
    assert [c["比值（省报÷平台）"] for c in cross] == pytest.approx([c.ratio for c in s.crosscheck])
    trend = records(workbook["趋势"])
    assert [t["提供岗位(个)"] for t in trend] == [v["positions"] for _, v in s.trend]


def test_the_revision_workbook(revised_mail, revised):
    book = openpyxl.load_workbook(io.BytesIO(revised_mail.attachments[0].content))
    values = {row[0]: row[1] for row in book["概览"].iter_rows(min_row=2, values_only=True)}
    assert values["版本"] == "第2版（修订）"
    assert [values[f"修订说明{i + 1}"] for i in range(len(revised.changes))] == revised.changes

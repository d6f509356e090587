"""What the ministry reads in the weekly summary: the provinces' own words (a workbook sheet of every
report's text, stored as text, and escaped excerpts in the email), the data team to ask, and the
Chinese-labelled link to the data-quality reports at the configured address."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import openpyxl
import pytest
import yaml

from recruitment_month import config
from recruitment_month.settings import settings
from recruitment_month.summary import content
from recruitment_month.summary.render import render_summary

FORMULA = '=HYPERLINK("http://evil.example","核实")'
LONG = (
    "组织“百日冲刺”系列招聘活动，联合人社部门举办线下专场招聘会。"
    "推动书记校长访企拓岗，新开拓岗位三千余个。" * 3
)


def _with_texts(summary):
    units = []
    for i, u in enumerate(summary.units):
        if not u.reported:
            units.append(u)
        elif i == 0:
            units.append(
                replace(u, highlights=FORMULA, problems="<script>alert(1)</script>企业需求 & 供给不匹配")
            )
        elif i == 1:
            units.append(replace(u, highlights=LONG, problems=LONG))
        else:
            units.append(
                replace(u, highlights=f"{u.name}做法{i}", problems=f"{u.name}问题{i}" if i % 2 else "")
            )
    return replace(summary, units=units)


@pytest.fixture(scope="module")
def summary(preliminary):
    return _with_texts(preliminary)


@pytest.fixture(scope="module")
def mail(summary):
    return render_summary(summary)


@pytest.fixture(scope="module")
def texts_sheet(mail):
    book = openpyxl.load_workbook(io.BytesIO(mail.attachments[0].content))
    return book["典型做法与问题"]


def test_the_texts_sheet_holds_every_accepted_report_text(summary, texts_sheet):
    rows = list(texts_sheet.iter_rows(values_only=True))
    assert rows[0] == ("单位代码", "单位", "统计截止日期", "典型做法与成效", "存在问题与建议")
    reported = [u for u in summary.units if u.reported]
    assert [r[0] for r in rows[1:]] == [u.code for u in reported]
    by_code = {r[0]: r for r in rows[1:]}
    for u in reported:
        assert by_code[u.code][3] == (u.highlights or None)
        assert by_code[u.code][4] == (u.problems or None)


def test_a_formula_looking_text_stays_text(texts_sheet):
    cells = [c for row in texts_sheet.iter_rows(min_row=2) for c in row if c.value == FORMULA]
    assert len(cells) == 1
    assert cells[0].data_type == "s"
    assert all(c.data_type != "f" for row in texts_sheet.iter_rows() for c in row)


def test_the_email_quotes_a_few_units_escaped_and_truncated(summary, mail):
    html, text = mail.html, mail.text
    assert "各地典型做法与存在问题（摘录）" in html
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "企业需求 &amp; 供给不匹配" in html
    assert html.count("data-excerpt=") == content.EXCERPT_UNITS
    assert LONG not in html
    assert LONG not in text
    (excerpt,) = [e for e in content.build(summary).excerpts if e.unit == summary.units[1].name]
    assert len(excerpt.highlights) <= content.EXCERPT_CHARS + 2
    assert excerpt.highlights.endswith("。……")
    assert excerpt.highlights in html


def test_units_that_wrote_about_problems_come_first(summary):
    excerpts = content.build(summary).excerpts
    assert len(excerpts) == content.EXCERPT_UNITS
    assert all(e.problems for e in excerpts)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("短句。", "短句。"),
        ("第一行\n第二行", "第一行 第二行"),
        ("甲" * 50 + "。" + "乙" * 60, "甲" * 50 + "。……"),
        ("丙" * 100, "丙" * 80 + "……"),
        (None, ""),
    ],
)
def test_truncate_cuts_at_a_sentence_end(text, expected):
    assert content.truncate(text) == expected


def test_readers_are_pointed_to_the_data_team_not_a_colleague(mail):
    team = config.campaign().data_team
    for body in (mail.html, mail.text):
        assert "对数据有疑问请联系数据组" in body
        assert team.phone in body
        assert team.email in body
    ministry = config.campaign().ministry
    assert ministry.contact_name not in mail.html
    assert ministry.contact_name not in mail.text


def test_the_data_docs_link_is_labelled_in_chinese_and_goes_to_the_configured_address(
    summary, tmp_path: Path, monkeypatch
):
    data = yaml.safe_load(settings().campaign_file.read_text(encoding="utf-8"))
    data["campaign"]["data_docs_url"] = "https://quality.example.org/docs/index.html"
    path = tmp_path / "campaign.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("RECRUITMENT_CAMPAIGN_FILE", str(path))
    mail = render_summary(summary)
    assert '<a id="data-docs" href="https://quality.example.org/docs/index.html"' in mail.html
    assert ">数据质量校验报告</a>" in mail.html
    assert "Data Docs" not in mail.html
    assert "数据质量校验报告：https://quality.example.org/docs/index.html" in mail.text
    book = openpyxl.load_workbook(io.BytesIO(mail.attachments[0].content))
    overview = {row[0]: row[1] for row in book["概览"].iter_rows(min_row=2, values_only=True)}
    assert overview["数据质量校验报告"] == "https://quality.example.org/docs/index.html"

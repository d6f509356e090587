"""The summary email: subject, structure, and the same numbers in the HTML, the text part and the
attachment as in the ``WeeklySummary`` rendered."""

from __future__ import annotations

import re
from dataclasses import replace
from email import message_from_bytes, policy

from summary_parsing import number, parse_html, text_rows, text_section

from recruitment_devkit import sample_summary
from recruitment_month import config
from recruitment_month.notifications import build
from recruitment_month.reports.fields import BY_KEY, COUNT_KEYS
from recruitment_month.summary import compute
from recruitment_month.summary import render as R
from recruitment_month.summary.content import fmt_change
from recruitment_month.summary.model import STATUS_LABELS, CrossCheck, QualityWarning
from recruitment_month.summary.render import render_summary

SENDER = "campus-recruitment-month@example.org"


# --------------------------------------------------------------------------------------- the message


def test_subject_names_campaign_week_and_version(preliminary_mail, revised_mail):
    assert preliminary_mail.subject == "【校园招聘月】全国周报（初步）第2周 截至2022年11月18日：已报28/32"
    assert revised_mail.subject == "【校园招聘月】全国周报（修订第2版）第2周 截至2022年11月18日：已报31/32"


def test_mail_fields(preliminary, preliminary_mail, revised_mail):
    mail = preliminary_mail
    assert mail.key == "weekly_summary/2022-11-18/v1"
    assert revised_mail.key == "weekly_summary/2022-11-18/v2"
    assert mail.kind == "weekly_summary"
    assert mail.subject_ref == "2022-11-18"
    assert mail.recipients == config.campaign().recipients.summary
    assert [a.filename for a in mail.attachments] == ["校园招聘月全国周报_第2周_2022-11-18_初步.xlsx"]
    assert revised_mail.attachments[0].filename == "校园招聘月全国周报_第2周_2022-11-18_修订第2版.xlsx"
    assert mail.attachments[0].subtype == R.XLSX_SUBTYPE
    assert {i.cid.split(".")[0] for i in mail.images} == {"status", "trend", "industry"}
    other = render_summary(preliminary, recipients=["someone@example.org"])
    assert other.recipients == ["someone@example.org"]


def test_rendering_is_deterministic(preliminary, preliminary_mail):
    again = render_summary(replace(preliminary))
    assert again.html == preliminary_mail.html
    assert again.text == preliminary_mail.text
    assert [i.content for i in again.images] == [i.content for i in preliminary_mail.images]
    assert again.attachments[0].content == preliminary_mail.attachments[0].content


def test_the_mime_message_round_trips(preliminary_mail):
    raw = build(preliminary_mail, SENDER).as_bytes()
    msg = message_from_bytes(raw, policy=policy.default)
    assert msg["Subject"] == preliminary_mail.subject
    parts = {part.get_content_type(): part for part in msg.walk()}
    assert parts["text/plain"].get_content() == preliminary_mail.text
    html = parts["text/html"].get_content()
    images = [p for p in msg.walk() if p.get_content_type() == "image/png"]
    assert len(images) == 3
    for image in images:
        assert f"cid:{image['Content-ID'].strip('<>')}" in html
    attachment = next(p for p in msg.walk() if p.get_filename())
    assert attachment.get_filename() == preliminary_mail.attachments[0].filename
    assert attachment.get_content() == preliminary_mail.attachments[0].content


# ------------------------------------------------------------------------------ HTML for mail clients


def test_html_is_self_contained_and_outlook_friendly(preliminary, preliminary_mail):
    html = preliminary_mail.html
    parsed = parse_html(html)
    tags = {tag for tag, _ in parsed.tags}
    assert not tags & {"style", "script", "link", "iframe", "object", "form", "svg"}
    cids = {i.cid for i in preliminary_mail.images}
    for tag, attrs in parsed.tags:
        if tag == "img":
            assert attrs["src"].startswith("cid:")
            assert attrs["src"][4:] in cids
            assert attrs.get("alt")
            assert int(attrs["width"]) <= 680
            assert attrs.get("height")
        for key in ("width",):
            if key in attrs and attrs[key].isdigit():
                assert int(attrs[key]) <= 680
        assert "class" not in attrs
    assert {src[4:] for src in re.findall(r'src="(cid:[^"]+)"', html)} == cids
    for width in re.findall(r"(?<![-\w])(?:max-)?width:\s*(\d+)px", html):
        assert int(width) <= 680
    # Every link is the data docs link; no external image or stylesheet.
    assert [a.get("href") for t, a in parsed.tags if t == "a"] == [preliminary.data_docs_url]
    assert preliminary.data_docs_url == sample_summary.DATA_DOCS_URL
    assert not re.search(r"(src|background)=\"https?:", html)


def test_html_numbers_are_right_aligned_with_thousands_separators(preliminary_mail):
    parsed = parse_html(preliminary_mail.html)
    for tag, attrs in parsed.tags:
        if tag in ("td", "th") and attrs.get("align") == "right":
            assert "text-align:right" in attrs["style"]
    national = parsed.tables["t-national"]
    assert parsed.headers["t-national"] == ["指标", "本周", "累计", "上周", "环比"]
    assert all(re.fullmatch(r"\d{1,3}(,\d{3})*", cells[1]) for _, cells in national)


def test_html_headline_figures(preliminary, preliminary_mail):
    s = preliminary
    parsed = parse_html(preliminary_mail.html)
    assert parsed.marked_text(kpi="报送率") == [f"{s.reporting_rate:.1%}"] == ["87.5%"]
    assert parsed.marked_text(kpi="按时率") == [f"{s.on_time_rate:.1%}"] == ["87.5%"]
    for key in ("positions", "employers", "graduates"):
        assert number(parsed.marked_text(figure=key, period="week")[0]) == s.national_week[key]
        assert number(parsed.marked_text(figure=key, period="cumulative")[0]) == s.national_cumulative[key]
    fairs = s.national_week["job_fairs_online"] + s.national_week["job_fairs_offline"]
    assert number(parsed.marked_text(figure="job_fairs", period="week")[0]) == fairs
    assert f"共提供岗位{s.national_week['positions']:,}个" in preliminary_mail.html


def test_html_names_the_units_to_act_on(preliminary, preliminary_mail, revised, revised_mail):
    parsed = parse_html(preliminary_mail.html)
    for status in ("missing", "rejected"):
        names = [u.name for u in preliminary.units_with(status)]
        assert parsed.marked_text(attention=status) == ["、".join(names)]
    assert parsed.marked_text(attention="late") == []
    detail = parsed.tables["t-status"]
    assert [cells[0] for _, cells in detail] == ["辽宁省", "浙江省", "福建省", "广东省"]
    assert [cells[1] for _, cells in detail] == [
        "●\xa0未报送",
        "●\xa0未通过校验",
        "●\xa0未通过校验",
        "●\xa0未通过校验",
    ]
    # 浙江省's corrected file landed at 17:52:17, after the deadline: late in the revision.
    detail = {cells[0]: cells for _, cells in parse_html(revised_mail.html).tables["t-status"]}
    assert detail["浙江省"][1:3] == ["●\xa0逾期报送", "11月18日 17:52"]
    assert [u.name for u in revised.units_with("late")] == ["浙江省", "福建省", "广东省"]


def test_html_national_table_matches_the_summary(preliminary, preliminary_mail):
    s = preliminary
    rows = parse_html(preliminary_mail.html).tables["t-national"]
    assert [cells[0] for _, cells in rows] == [BY_KEY[k].header for k in COUNT_KEYS]
    for key, (_, cells) in zip(COUNT_KEYS, rows, strict=True):
        assert number(cells[1]) == s.national_week[key]
        assert number(cells[2]) == s.national_cumulative[key]
        assert number(cells[3]) == s.previous_week[key]
        change = (s.national_week[key] - s.previous_week[key]) / s.previous_week[key]
        assert cells[4] == fmt_change(change)
        assert cells[4][0] in "↑↓"


def test_html_unit_table_matches_the_summary(preliminary, preliminary_mail):
    s = preliminary
    parsed = parse_html(preliminary_mail.html)
    rows = parsed.tables["t-units"]
    headers = parsed.headers["t-units"]
    assert headers[:2] == ["单位", "状态"]
    assert len(rows) == 33
    keys = ["job_fairs_online", "job_fairs_offline", "employers", "positions", "graduates"]
    for unit, (_, cells) in zip(s.units, rows, strict=False):
        assert cells[0] == unit.name
        assert cells[1].endswith(STATUS_LABELS[unit.status])
        values = [number(c) for c in cells[2:]]
        assert values == [unit.week.get(k) if unit.reported else None for k in keys]
    attrs, total = rows[-1]
    assert attrs["data-row"] == "total"
    assert total[0] == "全国合计"
    assert [number(c) for c in total[2:]] == [s.national_week[k] for k in keys]
    assert [number(c) for c in total[2:]] == [sum(u.week.get(k, 0) for u in s.units) for k in keys]


def test_html_warnings_feeds_and_crosscheck(preliminary, preliminary_mail):
    s = preliminary
    parsed = parse_html(preliminary_mail.html)
    # the week's accepted reports raised no warning: the email says so instead of a table
    warnings = parsed.tables.get("t-warnings", [])
    assert [(cells[0], cells[2]) for _, cells in warnings] == [(w.unit_name, w.message) for w in s.warnings]
    assert ("本周已报送数据未发现需要核实的问题" in preliminary_mail.html) == (not s.warnings)

    platforms = parsed.tables["t-platforms"]
    assert [cells[0] for _, cells in platforms[:-1]] == [p["platform_name"] for p in s.feeds.by_platform]
    assert [number(cells[2]) for _, cells in platforms[:-1]] == [p["openings"] for p in s.feeds.by_platform]
    assert number(platforms[-1][1][1]) == s.feeds.new_postings
    assert number(platforms[-1][1][2]) == s.feeds.openings
    assert platforms[-1][1][3] == f"{s.feeds.duplicate_rate:.1%}"

    provinces = parsed.tables["t-provinces"]
    top = sorted(s.feeds.by_province, key=lambda r: -r["openings"])[:10]
    assert [(c[0], number(c[2])) for _, c in provinces] == [(r["unit_name"], r["openings"]) for r in top]

    industries = parsed.tables["t-industries"]
    assert len(industries) == len(s.feeds.by_industry)
    key_rows = [cells[0] for _, cells in industries if cells[1] == "重点"]
    assert sorted(key_rows) == sorted(["能源动力", "材料化工", "装备制造", "建筑地产", "金融"])
    for _attrs, cells in industries:
        row = next(r for r in s.feeds.by_industry if r["industry"] == cells[0])
        assert number(cells[3]) == row["openings"]
    # key industries are highlighted
    styles = re.findall(
        r'<tr data-row="\d+">\s*<td[^>]*style="([^"]*)">(能源动力|信息技术)<', preliminary_mail.html
    )
    highlighted = {name: "font-weight:bold" in style for style, name in styles}
    assert highlighted == {"能源动力": True, "信息技术": False}

    cross = parsed.tables["t-crosscheck"]
    assert [c[0] for _, c in cross] == [c.unit_name for c in s.crosscheck]
    for check, (_, cells) in zip(s.crosscheck, cross, strict=True):
        assert number(cells[1]) == check.reported_positions
        assert number(cells[2]) == check.feed_openings
        assert cells[4] == (check.flag or "")
    table = preliminary_mail.html[preliminary_mail.html.index('id="t-crosscheck"') :]
    backgrounds = {
        name: colour
        for colour, name in re.findall(r"<td[^>]*background:(#[0-9a-f]{6})[^>]*>([^<]+)</td>", table)
    }
    for check in s.crosscheck:
        assert (backgrounds[check.unit_name] == "#fff1f0") == bool(check.flag), check.unit_name


def test_html_revised_banner_lists_the_changes(revised, revised_mail, preliminary_mail):
    assert 'id="revised"' in revised_mail.html
    assert 'id="revised"' not in preliminary_mail.html
    assert "初步数据" in preliminary_mail.html
    parsed = parse_html(revised_mail.html)
    banner = next(a for t, a in parsed.tags if t == "table" and a.get("id") == "revised")
    assert banner is not None
    for line in revised.changes:
        assert f'<li style="margin:2px 0;">{line}</li>' in revised_mail.html


def test_html_escapes_what_it_is_given(preliminary):
    hostile = replace(
        preliminary,
        warnings=[
            QualityWarning("110000", "北京市", "outlier_peers", "positions", "1", "<script>alert(1)</script>")
        ],
    )
    html = render_summary(hostile).html
    assert "<script>" not in html
    assert "&lt;script&gt;" in html


# ------------------------------------------------------------------------------------ the text part


def test_text_part_has_the_same_figures(preliminary, preliminary_mail):
    s = preliminary
    text = preliminary_mail.text
    assert text.startswith(preliminary_mail.subject + "\n")
    assert "报送率 87.5%（已报 28 / 应报 32）；按时率 87.5%（按时 28 / 应报 32）" in text
    assert "未报送（1个）：辽宁省" in text
    assert "未通过校验（3个）：浙江省、福建省、广东省" in text
    assert "逾期报送 0 个；未报送 1 个；未通过校验 3 个" in text
    assert "逾期报送（" not in text

    national = text_rows(text_section(text, "二、全国汇总"))
    for key in COUNT_KEYS:
        row = national[BY_KEY[key].header]
        assert number(row["本周"]) == s.national_week[key]
        assert number(row["累计"]) == s.national_cumulative[key]
        assert number(row["上周"]) == s.previous_week[key]

    units = text_rows(text_section(text, "三、"))
    assert len(units) == 33
    for unit in s.units:
        row = units[unit.name]
        assert row["状态"] == STATUS_LABELS[unit.status]
        assert number(row.get("岗位(个)", "—")) == (unit.week["positions"] if unit.reported else None)
    assert number(units["全国合计"]["岗位(个)"]) == s.national_week["positions"]

    feeds = text_section(text, "五、招聘平台岗位")
    assert f"新发布岗位信息 {s.feeds.new_postings:,} 条；招聘人数 {s.feeds.openings:,} 人" in feeds
    assert "★能源动力" in feeds
    assert "★信息技术" not in feeds
    assert compute.CROSSCHECK_RULE in text_section(text, "六、")
    cross = text_rows(text_section(text, "六、"))
    assert {name for name, row in cross.items() if "提示" in row} == {
        c.unit_name for c in s.crosscheck if c.flag
    }
    assert s.data_docs_url in text
    assert "\n\n\n" not in text


def test_text_part_of_a_revision(revised, revised_mail):
    text = revised_mail.text
    assert "【修订版（第2版）】" in text
    for line in revised.changes:
        assert f"- {line}" in text


# ----------------------------------------------------------------------------------- odd summaries


def test_a_week_without_feeds_warnings_previous_week_or_problems(first_week):
    s = first_week
    everyone = [replace(u, status="on_time") if u.status == "late" else u for u in s.units]
    quiet = replace(
        s, feeds=None, warnings=[], crosscheck=[], previous_week=None, units=everyone, data_docs_url=None
    )
    mail = render_summary(quiet)
    assert {i.cid.split(".")[0] for i in mail.images} == {"status", "trend"}
    assert "本周招聘平台数据暂缺" in mail.html
    assert "本周招聘平台数据暂缺" in mail.text
    assert "本周已报送数据未发现需要核实的问题" in mail.html
    assert "本周没有可核对的数据" in mail.html
    assert compute.CROSSCHECK_RULE not in mail.html
    parsed = parse_html(mail.html)
    assert {row[1][4] for row in parsed.tables["t-national"]} == {"—"}
    assert not [a for t, a in parsed.tags if t == "a"]


def test_everyone_on_time(preliminary):
    s = preliminary
    units = [
        replace(u, status="on_time", landed_at=s.deadline, revision=1, week=u.week or {"positions": 1})
        for u in s.units
    ]
    mail = render_summary(
        replace(s, units=units, crosscheck=[CrossCheck("110000", "北京市", 1, 0, None, None)])
    )
    assert mail.subject.endswith("已报32/32")
    assert "全部 32 个单位均已按时报送" in mail.html
    assert 'id="attention"' not in mail.html
    assert "t-status" not in mail.html
    assert "全部 32 个单位均已按时报送" in mail.text


# ------------------------------------------------------------------------------------------ the CLI


def test_cli_writes_eml_html_and_xlsx(sample, revised_mail, tmp_path, capsys):
    assert (
        sample_summary.main(
            [str(tmp_path), "--week", "2", "--version", "2", "--replay", str(sample.directory)]
        )
        == 0
    )
    names = sorted(p.name for p in tmp_path.iterdir())
    stem = "校园招聘月全国周报_第2周_2022-11-18_修订第2版"
    assert names == sorted(f"{stem}.{ext}" for ext in ("eml", "html", "txt", "xlsx"))
    html = (tmp_path / f"{stem}.html").read_text(encoding="utf-8")
    assert "cid:" not in html
    assert html.count("data:image/png;base64,") == 3
    msg = message_from_bytes((tmp_path / f"{stem}.eml").read_bytes(), policy=policy.default)
    assert msg["Subject"] == revised_mail.subject
    assert stem in capsys.readouterr().out


def test_the_first_week(first_week):
    mail = render_summary(first_week)
    assert "第1周" in mail.subject
    assert "共8周" in mail.text

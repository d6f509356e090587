"""Parsing provincial reports: every bad input is one specific, polite Chinese rejection, never a crash."""

from __future__ import annotations

import io
import re
import struct
import zipfile
from collections.abc import Callable
from datetime import date, datetime, time
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from report_builders import (
    csv_bytes,
    json_bytes,
    ole_bytes,
    parse,
    replace_member,
    xlsx_bytes,
    zip_bytes,
)

from recruitment_month.problems import Severity, rejects, warnings
from recruitment_month.reports import fields as F
from recruitment_month.reports import parse as parse_module
from recruitment_month.reports.parse import RULES, ValueIssue, normalise_count, normalise_date

SPREADSHEET_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
    b'content-types"><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
    b'officedocument.spreadsheetml.sheet.main+xml"/></Types>'
)
BEIJING = ZoneInfo("Asia/Shanghai")


def excel_cell(day: date) -> datetime:
    """A date as an Excel date cell holds it: Beijing midnight's wall time, without a zone (Excel keeps none)."""
    return datetime.combine(day, time(), tzinfo=BEIJING).replace(tzinfo=None)


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(40)


def changed(**changes):
    """A record with some values replaced, for the form."""

    def make(record: dict) -> dict:
        return {**record, **changes}

    return make


def as_xlsx(**changes):
    return lambda record: xlsx_bytes(changed(**changes)(record))


def as_csv(**changes):
    return lambda record: csv_bytes(changed(**changes)(record))


def as_json(**changes):
    return lambda record: json_bytes(changed(**changes)(record))


def edited_xlsx(edit):
    return lambda record: xlsx_bytes(record, edit=edit)


def _delete_positions_row(workbook):
    sheet = workbook["周报"]
    row = next(c.row for c in sheet["A"] if c.value == "提供岗位(个)")
    sheet.delete_rows(row)


def _delete_phone_label(workbook):
    workbook["周报"]["A7"] = None


def _formula_without_result(workbook):
    # openpyxl writes a formula without its result, as scripts and some online editors do.
    workbook["周报"]["B14"] = "=SUM(B10:B13)"


def _rename_sheet(workbook):
    workbook["周报"].title = "Sheet1"


def _second_positions_row(workbook):
    sheet = workbook["周报"]
    sheet.append(["提供岗位(个)", 1, 2])


def _clear_form(workbook):
    sheet = workbook["周报"]
    for row in sheet.iter_rows():
        for cell in row:
            if type(cell).__name__ == "Cell":
                cell.value = None


def _truncated(record):
    data = xlsx_bytes(record)
    return data[: len(data) // 2]


def _broken_sheet(record):
    return replace_member(xlsx_bytes(record), "xl/worksheets/sheet1.xml", b"<worksheet><sheetData><row r=")


def _macro_types(record):
    data = xlsx_bytes(record)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        types = archive.read("[Content_Types].xml")
    types = types.replace(b"spreadsheetml.sheet.main+xml", b"ms-excel.sheet.macroEnabled.main+xml")
    return replace_member(data, "[Content_Types].xml", types)


def _bomb(record):
    """A workbook-shaped zip whose one part unpacks from a few KB to 30 MB of zeros."""
    return zip_bytes(
        {"[Content_Types].xml": SPREADSHEET_TYPES, "xl/sharedStrings.xml": bytes(30 * 1024 * 1024)}
    )


def _two_rows(record):
    previous = {**record, "week_ending": date(2022, 11, 11)}
    return csv_bytes(record, extra_rows=[previous])


def _two_objects(record):
    return b"[" + json_bytes(record) + b"," + json_bytes(record) + b"]"


def _without(key, builder=csv_bytes):
    return lambda record: builder({k: v for k, v in record.items() if k != key})


def _duplicate_column(record):
    names = [*F.flat_columns("zh"), "positions"]
    values = {**record}
    keys = list(F.RECORD_KEYS)
    buffer = ",".join(names) + "\r\n" + ",".join(str(values[k]) for k in keys) + ",12\r\n"
    return buffer.encode("utf-8")


def _huge_field(record):
    return csv_bytes(record) + b'"' + b"x" * 200_000 + b"\r\n"


BAD_INPUTS = [
    # -- counts in the form
    pytest.param(
        as_xlsx(positions="约300"), "r.xlsx", "count_not_integer", "positions", "B14",
        ["“提供岗位(个)”本周数", "单元格 B14", "“约300”", "不要加“约”"], id="xlsx-approximate",
    ),
    pytest.param(
        as_xlsx(guidance_sessions_cumulative=-5), "r.xlsx", "count_negative", "guidance_sessions_cumulative",
        "C19", ["“就业育人主题教育活动(场)”累计数", "“-5”", "不能为负数"], id="xlsx-negative",
    ),
    pytest.param(
        as_xlsx(graduates="12人"), "r.xlsx", "count_not_integer", "graduates", "B15",
        ["“12人”", "不要带单位“人”"], id="xlsx-with-unit",
    ),
    pytest.param(
        as_xlsx(job_fairs_online=1.5), "r.xlsx", "count_not_integer", "job_fairs_online", "B10",
        ["“1.5”", "不能有小数"], id="xlsx-decimal",
    ),
    pytest.param(
        as_xlsx(matching_projects_cumulative="abc"), "r.xlsx", "count_not_integer",
        "matching_projects_cumulative", "C23", ["“abc”", "阿拉伯数字"], id="xlsx-letters",
    ),
    pytest.param(
        as_xlsx(positions_cumulative=12_345_678_901), "r.xlsx", "count_too_large", "positions_cumulative",
        "C14", ["12345678901", "999,999,999"], id="xlsx-too-large",
    ),
    pytest.param(
        as_xlsx(positions=1500, positions_cumulative=1000), "r.xlsx", "cumulative_lt_weekly",
        "positions_cumulative", "C14", ["1,000", "1,500", "不小于本周数"], id="xlsx-cumulative-below-week",
    ),
    # -- identification in the form
    pytest.param(
        as_xlsx(week_ending="2022-11-17"), "r.xlsx", "week_invalid", "week_ending", "B5",
        ["2022-11-17（星期四）", "应填写 2022-11-18（星期五）", "2022-11-11、2022-11-18、2022-11-25"],
        id="xlsx-thursday",
    ),
    pytest.param(
        as_xlsx(week_ending="2023-01-06"), "r.xlsx", "week_invalid", "week_ending", "B5",
        ["2023-01-06（星期五）", "2022-12-30"], id="xlsx-friday-after-campaign",
    ),
    pytest.param(
        as_xlsx(week_ending="2022-13-01"), "r.xlsx", "date_invalid", "week_ending", "B5",
        ["“2022-13-01”", "该日期不存在"], id="xlsx-impossible-date",
    ),
    pytest.param(
        as_xlsx(week_ending="11月18日"), "r.xlsx", "date_invalid", "week_ending", "B5",
        ["“11月18日”", "2022-11-11 的格式"], id="xlsx-date-without-year",
    ),
    pytest.param(
        as_xlsx(unit_code="123456"), "r.xlsx", "unit_invalid", "unit_code", "B4",
        ["“123456”", "6 位单位代码", "660000"], id="xlsx-unknown-unit",
    ),
    pytest.param(
        as_xlsx(unit_code=None), "r.xlsx", "field_missing", "unit_code", "B4", ["“填报单位代码”", "未填写"],
        id="xlsx-unit-blank",
    ),
    pytest.param(
        as_xlsx(week_ending="  "), "r.xlsx", "field_missing", "week_ending", "B5", ["“统计截止日期”", "未填写"],
        id="xlsx-week-blank",
    ),
    # -- the form's layout
    pytest.param(
        edited_xlsx(_delete_positions_row), "r.xlsx", "field_missing", "positions", None,
        ["找不到“提供岗位(个)”这一行"], id="xlsx-row-deleted",
    ),
    pytest.param(
        edited_xlsx(_delete_phone_label), "r.xlsx", "field_missing", "contact_phone", None,
        ["找不到“联系电话”栏目"], id="xlsx-label-deleted",
    ),
    pytest.param(
        edited_xlsx(_second_positions_row), "r.xlsx", "field_duplicate", "positions", "B27",
        ["“提供岗位(个)”本周数出现了 2 次", "单元格 B14", "单元格 B27"], id="xlsx-row-twice",
    ),
    pytest.param(
        edited_xlsx(_formula_without_result), "r.xlsx", "formula_uncomputed", "positions", "B14",
        ["单元格 B14", "=SUM(B10:B13)", "没有保存", "Excel 或 WPS"], id="xlsx-formula-without-result",
    ),
    pytest.param(
        edited_xlsx(_rename_sheet), "r.xlsx", "sheet_missing", None, None,
        ["没有名为“周报”的工作表", "“Sheet1”、“填报说明”"], id="xlsx-sheet-renamed",
    ),
    pytest.param(
        edited_xlsx(_clear_form), "r.xlsx", "header_invalid", None, None, ["找不到模板的栏目"],
        id="xlsx-blank-sheet",
    ),
    # -- files that are not workbooks
    pytest.param(lambda r: PNG, "周报.xlsx", "not_a_workbook", None, None, ["PNG 图片", ".xlsx"], id="png-as-xlsx"),
    pytest.param(lambda r: b"", "周报.xlsx", "file_empty", None, None, ["“周报.xlsx”是空的"], id="empty-xlsx"),
    pytest.param(lambda r: b"\xef\xbb\xbf \r\n\r\n", "r.csv", "file_empty", None, None, ["是空的"], id="blank-csv"),
    pytest.param(
        lambda r: ole_bytes("EncryptionInfo", "EncryptedPackage"), "r.xlsx", "workbook_encrypted", None, None,
        ["打开密码", "清空密码"], id="encrypted",
    ),
    pytest.param(
        lambda r: ole_bytes("Workbook", "\x05SummaryInformation"), "r.xls", "xls_legacy", None, None,
        ["97-2003", "另存为"], id="xls",
    ),
    pytest.param(
        lambda r: ole_bytes("Workbook"), "r.xlsx", "xls_legacy", None, None, ["97-2003"], id="xls-named-xlsx"
    ),
    pytest.param(_truncated, "r.xlsx", "workbook_corrupt", None, None, ["已损坏"], id="truncated"),
    pytest.param(_broken_sheet, "r.xlsx", "workbook_corrupt", None, None, ["已损坏"], id="broken-sheet-xml"),
    pytest.param(as_xlsx(), "r.xlsm", "macro_workbook", None, None, ["启用宏", "*.xlsx"], id="xlsm-name"),
    pytest.param(_macro_types, "r.xlsx", "macro_workbook", None, None, ["含有宏"], id="macro-content-type"),
    pytest.param(_bomb, "r.xlsx", "zip_bomb", None, None, ["30.0 MB", "压缩比"], id="zip-bomb"),
    pytest.param(
        lambda r: zip_bytes({"周报.xlsx": b"x"}), "r.xlsx", "not_a_workbook", None, None, ["zip 压缩包", "不要压缩"],
        id="zipped",
    ),
    pytest.param(
        lambda r: zip_bytes({"[Content_Types].xml": b"<Types>wordprocessingml.document.main+xml</Types>"}),
        "r.xlsx", "not_a_workbook", None, None, ["Word 文档"], id="docx-as-xlsx",
    ),
    pytest.param(lambda r: ole_bytes("WordDocument"), "r.doc", "unsupported_format", None, None, ["“.doc”"], id="doc"),
    pytest.param(
        lambda r: b"%PDF-1.4\n%%EOF\n", "r.pdf", "unsupported_format", None, None, ["“.pdf”", "PDF 文档"], id="pdf"
    ),
    pytest.param(as_csv(), "r.txt", "unsupported_format", None, None, ["“.txt”", "改为 .csv"], id="txt"),
    pytest.param(as_csv(), "README", "unsupported_format", None, None, ["无扩展名"], id="no-extension"),
    # -- text files
    pytest.param(_two_rows, "r.csv", "multiple_reports", None, None, ["2 行数据", "第 2、3 行"], id="csv-two-rows"),
    pytest.param(_two_objects, "r.json", "multiple_reports", None, None, ["2 份报告"], id="json-two-objects"),
    pytest.param(
        lambda r: b"unit_code,week_ending\r\n\x81\xff\xfe\x80", "r.csv", "encoding", None, None,
        ["UTF-8", "GB18030"], id="undecodable",
    ),
    pytest.param(lambda r: PNG, "r.csv", "encoding", None, None, ["PNG 图片", "不是文本"], id="png-as-csv"),
    pytest.param(_huge_field, "r.csv", "csv_invalid", None, None, ["CSV 文件格式有误"], id="csv-runaway-quote"),
    pytest.param(
        _without("job_fairs_online_cumulative"), "r.csv", "field_missing", "job_fairs_online_cumulative", None,
        ["缺少“线上专场招聘会(场)累计”列", "job_fairs_online_cumulative"], id="csv-column-missing",
    ),
    pytest.param(
        _without("positions", json_bytes), "r.json", "field_missing", "positions", None,
        ["缺少键“positions”", "提供岗位(个)本周"], id="json-key-missing",
    ),
    pytest.param(
        lambda r: b'{"unit_code": "440000",\n "positions": 1,,}', "r.json", "json_invalid", None, None,
        ["第 2 行", "引号、逗号和括号"], id="json-syntax",
    ),
    pytest.param(lambda r: b'"a report"', "r.json", "json_invalid", None, None, ["一个对象"], id="json-string"),
    pytest.param(lambda r: b"[" * 100_000, "r.json", "json_invalid", None, None, ["嵌套"], id="json-deep"),
    pytest.param(lambda r: b"[]", "r.json", "no_data", None, None, ["空列表"], id="json-empty-list"),
    pytest.param(
        lambda r: "unit_code,week_ending,contact_name\r\n440000,2022-11-18,陈\r\n".encode(),
        "r.csv", "field_missing", "contact_phone", None, ["缺少“联系电话”列", "contact_phone"],
        id="csv-identification-only",
    ),
    pytest.param(
        lambda r: ",".join(F.flat_columns("en")).encode(), "r.csv", "no_data", None, None, ["没有数据行"],
        id="csv-header-only",
    ),
    pytest.param(
        lambda r: b"name,value\r\nfoo,1\r\n", "r.csv", "header_invalid", None, "", ["第一行应是列名", "“name”"],
        id="csv-no-header",
    ),
    pytest.param(
        as_csv(positions="约300"), "r.csv", "count_not_integer", "positions", "M2",
        ["“提供岗位(个)”本周数", "第 2 行第 13 列", "M2", "“约300”"], id="csv-approximate",
    ),
    pytest.param(
        as_csv(employers="-5"), "r.csv", "count_negative", "employers", "K2", ["“-5”", "第 2 行第 11 列"],
        id="csv-negative",
    ),
    pytest.param(
        as_csv(unit_code="火星省"), "r.csv", "unit_invalid", "unit_code", "A2", ["“火星省”"], id="csv-unknown-unit"
    ),
    pytest.param(
        as_csv(week_ending="2022-02-30"), "r.csv", "date_invalid", "week_ending", "B2", ["“2022-02-30”"],
        id="csv-impossible-date",
    ),
    pytest.param(
        _duplicate_column, "r.csv", "field_duplicate", "positions", "AI2", ["出现了 2 次", "M2", "AI2"],
        id="csv-column-twice",
    ),
    pytest.param(
        as_json(positions="约300"), "r.json", "count_not_integer", "positions", None,
        ["键“positions”", "“约300”"], id="json-approximate",
    ),
    pytest.param(
        as_json(hongzhi_trainees=True), "r.json", "count_not_integer", "hongzhi_trainees", None,
        ["键“hongzhi_trainees”", "“True”"], id="json-boolean",
    ),
]  # fmt: skip


class BadInput(NamedTuple):
    """A file with one mistake, and the one rejection it must get: rule, field, cell and message fragments."""

    make: Callable[[dict], bytes]
    filename: str
    rule: str
    field: str | None
    cell: str | None
    fragments: list[str]


@pytest.mark.parametrize(
    "bad", [pytest.param(BadInput(*param.values), id=param.id, marks=param.marks) for param in BAD_INPUTS]
)
def test_bad_input_is_one_specific_rejection(bad, record):
    make, filename, rule, field, cell, fragments = bad
    result = parse(make(record), filename)

    assert result.record is None
    assert result.rejected
    assert {p.rule for p in rejects(result.problems)} == {rule}, [p.message for p in result.problems]
    found = next(p for p in result.problems if p.rule == rule)
    assert found.severity is Severity.REJECT
    assert found.field == field
    if cell == "":  # a whole row (the header) is meant
        assert found.row == 1
    else:
        assert found.cell == cell
        if cell:
            assert found.row == int(re.sub(r"\D", "", cell))
    for fragment in fragments:
        assert fragment in found.message, found.message
    assert found.message.endswith("。")


def test_every_rule_is_documented_and_exercised(record):
    """Each rule the parser can raise appears in RULES, and the bad inputs above reach every reject rule."""
    source = Path(parse_module.__file__).read_text(encoding="utf-8")
    used = set(re.findall(r'(?:problem|_fail|_json_fail_rule)\(\s*"([a-z_]+)"', source))
    used |= set(re.findall(r'ValueIssue\("([a-z_]+)"', source))
    assert used <= set(RULES)
    reached = {param.values[2] for param in BAD_INPUTS}
    reject_rules = {rule for rule, (severity, _) in RULES.items() if severity is Severity.REJECT}
    assert reject_rules - reached == {"parse_failed", "file_too_large"}  # each tested on its own below
    for rule, (severity, description) in RULES.items():
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", rule)
        assert isinstance(severity, Severity)
        assert re.search(r"[\u4e00-\u9fff]", description)


def test_a_file_over_the_limit_is_refused_before_reading(record):
    content = xlsx_bytes(record)
    result = parse(content, "r.xlsx", max_bytes=len(content) - 1)
    assert [p.rule for p in result.problems] == ["file_too_large"]
    assert "超过了" in result.problems[0].message
    assert result.problems[0].value == str(len(content))


def test_forged_zip_sizes_are_caught_from_the_central_directory_before_openpyxl(record, monkeypatch):
    content = bytearray(xlsx_bytes(record))
    entry = content.index(b"PK\x01\x02")  # the first central directory record
    struct.pack_into("<I", content, entry + 24, 0xF000_0000)  # its uncompressed size: 3.75 GB

    def refuse(*args, **kwargs):
        raise AssertionError("openpyxl must not open a suspected zip bomb")

    monkeypatch.setattr("openpyxl.load_workbook", refuse)
    result = parse(bytes(content), "r.xlsx")
    assert [p.rule for p in result.problems] == ["zip_bomb"]


def test_an_unexpected_error_becomes_a_rejection_not_an_exception(record, monkeypatch, caplog):
    def explode(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(parse_module, "_parse_csv", explode)
    result = parse(csv_bytes(record), "r.csv")
    assert result.record is None
    assert [(p.rule, p.value) for p in result.problems] == [("parse_failed", "RuntimeError")]
    assert "bug" in caplog.text


# ---------------------------------------------------------------------------------------------------
# Warnings: the record is loaded and flagged


def test_more_employers_than_positions_is_a_warning(record):
    result = parse(
        xlsx_bytes(
            {
                **record,
                "employers": 500,
                "positions": 300,
                "employers_cumulative": 600,
                "positions_cumulative": 900,
            }
        ),
        "r.xlsx",
    )
    assert result.record is not None
    assert result.record["employers"] == 500
    [warning] = warnings(result.problems)
    assert (warning.rule, warning.field, warning.cell, warning.severity) == (
        "employers_gt_positions",
        "employers",
        "B13",
        Severity.WARN,
    )
    assert "500" in warning.message
    assert "300" in warning.message


def test_unknown_column_is_ignored_with_a_warning(record):
    names = [*F.flat_columns("zh"), "备注"]
    row = [
        str(record[k]) if not isinstance(record[k], date) else record[k].isoformat() for k in F.RECORD_KEYS
    ]
    content = (",".join(names) + "\r\n" + ",".join([*row, "无"]) + "\r\n").encode("gb18030")
    result = parse(content, "r.csv")
    assert result.record == record
    [warning] = result.problems
    assert (warning.rule, warning.cell, warning.value) == ("field_unknown", "AI1", "备注")
    assert "“备注”" in warning.message


def test_blank_contact_is_a_warning(record):
    result = parse(json_bytes({**record, "contact_phone": " "}), "r.json")
    assert result.record is not None
    assert result.record["contact_phone"] == ""
    assert [(p.rule, p.field) for p in result.problems] == [("contact_missing", "contact_phone")]


def test_a_blank_form_for_a_unit_and_week_is_all_zero_with_warnings(campaign):
    result = parse(xlsx_bytes({"unit_code": "北京", "week_ending": date(2022, 11, 11)}), "r.xlsx")
    assert result.record is not None
    assert all(result.record[k] == 0 for k in F.RECORD_KEYS if F.spec_of(k).kind == "count")
    assert {p.rule for p in result.problems} == {"contact_missing", "counts_all_zero"}


def test_a_rejected_file_still_declares_its_unit_and_week(record):
    result = parse(xlsx_bytes({**record, "positions": "约300"}), "r.xlsx")
    assert result.rejected
    assert result.declared == {"unit_code": "440000", "week_ending": date(2022, 11, 18)}


# ---------------------------------------------------------------------------------------------------
# The same report in every format


def _equivalents(record: dict) -> dict[str, tuple[bytes, str]]:
    files = {"xlsx": (xlsx_bytes(record), "广东.xlsx")}
    for encoding in ("utf-8", "utf-8-sig", "gb18030"):
        for language in ("zh", "en"):
            files[f"csv-{encoding}-{language}"] = (
                csv_bytes(record, language=language, encoding=encoding),
                "r.csv",
            )
    for language in ("zh", "en"):
        for wrap in (False, True):
            files[f"json-{language}-{'list' if wrap else 'object'}"] = (
                json_bytes(record, language=language, wrap=wrap),
                "r.JSON",
            )
    variants = [
        n.replace("(", "（").replace(")", "）").replace("本周", " 本周") for n in F.flat_columns("zh")
    ]  # full-width parentheses and a space, as people retype headers
    files["csv-fullwidth-headers"] = (csv_bytes(record, columns=variants, encoding="gb18030"), "r.csv")
    files["csv-tab-separated"] = (csv_bytes(record).replace(b",", b"\t"), "r.csv")
    files["xlsx-flat-table"] = (_flat_workbook(record), "r.xlsx")
    return files


def _flat_workbook(record: dict) -> bytes:
    """A workbook whose sheet 周报 holds the flat table (a title row, the header row, one data row)."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "周报"
    sheet.append(["广东省校园招聘月周报"])
    sheet.append(F.flat_columns("zh"))
    sheet.append([record[k] for k in F.RECORD_KEYS])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_the_same_report_parses_identically_in_every_format(record):
    for name, (content, filename) in _equivalents(record).items():
        result = parse(content, filename)
        assert result.problems == [], (name, [p.message for p in result.problems])
        assert result.record == record, name
        assert result.format == name.split("-")[0]


def test_csv_encodings_are_detected(record):
    for encoding, expected in (("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("gb18030", "gb18030")):
        assert parse(csv_bytes(record, encoding=encoding), "r.csv").encoding == expected
    utf16 = csv_bytes(record).decode().encode("utf-16")
    assert parse(utf16, "r.csv").record == record


def test_the_form_saved_as_csv_parses(record):
    """Excel's "save as CSV" of the form sheet gives the label/value layout, not a flat table."""
    workbook = openpyxl.load_workbook(io.BytesIO(xlsx_bytes(record)))
    buffer = io.StringIO()
    for row in workbook["周报"].iter_rows(values_only=True):
        buffer.write(",".join("" if v is None else f'"{v}"' for v in row) + "\r\n")
    result = parse(buffer.getvalue().encode("gb18030"), "form.csv")
    assert result.problems == []
    assert result.record == record


def test_record_shape(record):
    result = parse(json_bytes(record), "r.json")
    assert list(result.record) == list(F.RECORD_KEYS)
    assert isinstance(result.record["unit_code"], str)
    assert isinstance(result.record["week_ending"], date)
    for key in F.RECORD_KEYS:
        if F.spec_of(key).kind == "count":
            assert type(result.record[key]) is int
        elif key != "week_ending":
            assert isinstance(result.record[key], str)


# ---------------------------------------------------------------------------------------------------
# Values as people type them


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("1,234", 1234),
        ("１２３４", 1234),
        ("１，２３４", 1234),
        ("1234.0", 1234),
        ("1,234.00", 1234),
        (" 12 ", 12),
        ("\u300012\u3000", 12),
        ("\u00a07\t", 7),
        ("", 0),
        ("   ", 0),
        (None, 0),
        (12.0, 12),
        (12, 12),
        ("+5", 5),
        ("0", 0),
        ("\u200b42", 42),
    ],
)
def test_counts_are_normalised(typed, expected):
    assert normalise_count(typed) == expected


@pytest.mark.parametrize(
    ("typed", "rule", "hint"),
    [
        ("约300", "count_not_integer", "“约”"),
        ("300余", "count_not_integer", "“余”"),
        ("100-200", "count_not_integer", "范围"),
        ("-5", "count_negative", "负数"),
        ("－５", "count_negative", "负数"),
        ("\u22125", "count_negative", "负数"),
        (-5, "count_negative", "负数"),
        ("12人", "count_not_integer", "单位“人”"),
        ("3 场", "count_not_integer", "单位“场”"),
        ("1.5", "count_not_integer", "小数"),
        (1.5, "count_not_integer", "小数"),
        ("abc", "count_not_integer", "阿拉伯数字"),
        ("无", "count_not_integer", "填 0"),
        ("1,2345", "count_not_integer", "千分位"),
        ("1e3", "count_not_integer", "阿拉伯数字"),
        (float("nan"), "count_not_integer", "阿拉伯数字"),
        (True, "count_not_integer", "阿拉伯数字"),
        (excel_cell(date(2022, 11, 11)), "count_not_integer", "阿拉伯数字"),
        ("9" * 5000, "count_too_large", "999,999,999"),
        (10**12, "count_too_large", "999,999,999"),
    ],
)
def test_counts_that_are_not_counts(typed, rule, hint):
    with pytest.raises(ValueIssue) as caught:
        normalise_count(typed)
    assert caught.value.rule == rule
    assert hint in caught.value.hint


def test_typed_numbers_parse_to_integers_end_to_end(record):
    typed = {
        **record,
        "positions": "98,765",
        "positions_cumulative": "２０１２３４",
        "employers": "2345.0",
        "employers_cumulative": " 4690 ",
        "matching_projects": "",
        "matching_projects_cumulative": "\u30003\u3000",
    }
    result = parse(csv_bytes(typed, encoding="gb18030"), "r.csv")
    assert result.problems == []
    assert result.record == {**record, "matching_projects": 0, "matching_projects_cumulative": 3}


@pytest.mark.parametrize(
    "typed",
    [
        "2022-11-11",
        "2022/11/11",
        "2022.11.11",
        "2022年11月11日",
        "2022 年 11 月 11 日",
        "2022年11月11",
        "20221111",
        20221111,
        "2022-11-11 00:00:00",
        "2022/11/11 0:00",
        "２０２２－１１－１１",
        date(2022, 11, 11),
        excel_cell(date(2022, 11, 11)),
    ],
)
def test_dates_are_normalised(typed):
    assert normalise_date(typed) == date(2022, 11, 11)


def test_excel_day_numbers_count_only_in_workbooks():
    assert normalise_date(44876, excel_serial=True) == date(2022, 11, 11)
    with pytest.raises(ValueIssue):
        normalise_date(44876)


def test_excel_date_cells_and_day_numbers_parse(record):
    def date_cell(workbook):
        workbook["周报"]["B5"] = excel_cell(date(2022, 11, 18))
        workbook["周报"]["B5"].number_format = "yyyy-mm-dd"

    def day_number(workbook):
        workbook["周报"]["B5"] = 44883  # 2022-11-18 whose date format was lost

    for edit in (date_cell, day_number):
        assert parse(xlsx_bytes(record, edit=edit), "r.xlsx").record == record


@pytest.mark.parametrize(
    "typed", ["440000", 440000, 440000.0, "广东省", "广东", "Guangdong", " 广东 省 ", "广东省(440000)"]
)
def test_the_unit_is_a_code_or_a_name(typed, record):
    result = parse(json_bytes({**record, "unit_code": typed}), "r.json")
    assert result.problems == []
    assert result.record["unit_code"] == "440000"


def test_the_corps_has_its_own_code(record):
    result = parse(csv_bytes({**record, "unit_code": "兵团"}), "r.csv")
    assert result.record["unit_code"] == "660000"


def test_a_formula_with_its_saved_result_is_read_as_that_result(record):
    """A workbook saved by Excel or WPS keeps each formula's result: that number is the value."""
    content = xlsx_bytes(record, edit=_formula_without_result)
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        name = next(n for n in archive.namelist() if n.startswith("xl/worksheets/sheet1"))
        xml = archive.read(name)
    total = sum(record[k] for k in ("job_fairs_online", "job_fairs_offline", "campus_events", "employers"))
    saved = xml.replace(b"<f>SUM(B10:B13)</f><v />", b"<f>SUM(B10:B13)</f><v>%d</v>" % total)
    assert saved != xml
    result = parse(replace_member(content, name, saved), "r.xlsx")
    assert not result.rejected, [p.message for p in result.problems]
    assert result.record["positions"] == total


def test_control_characters_are_stripped_with_a_warning_in_every_format(record):
    dirty = dict(
        record, contact_name="王\x00老师", highlights="开展\x1b[31m招聘会\x85。\n第二段", problems="无\x7f"
    )
    for content, name in ((csv_bytes(dirty), "r.csv"), (json_bytes(dirty), "r.json")):
        result = parse(content, name)
        assert not result.rejected, [p.message for p in result.problems]
        assert result.record["contact_name"] == "王老师"
        assert result.record["highlights"] == "开展[31m招聘会。\n第二段"
        assert result.record["problems"] == "无"
        flagged = {p.field for p in result.problems if p.rule == "control_characters"}
        assert flagged == {"contact_name", "highlights", "problems"}, name
        assert all(p.severity is Severity.WARN for p in result.problems)

    # XML 1.0 carries C1 characters and DEL (not C0): a workbook can hold those.
    def c1_and_del(workbook):  # written past the form's writer, which stores clean text only
        workbook["周报"]["B25"] = "开展\x85招聘会\x9b。"
        workbook["周报"]["B26"] = "无\x7f"

    xlsx = parse(xlsx_bytes(record, edit=c1_and_del), "r.xlsx")
    assert (xlsx.record["highlights"], xlsx.record["problems"]) == ("开展招聘会。", "无")
    assert {p.cell for p in xlsx.problems if p.rule == "control_characters"} == {"B25", "B26"}


def test_problems_are_capped_per_rule_with_a_count_of_the_rest(record):
    header = ",".join([*F.flat_columns("en"), *(f"extra_{i}" for i in range(20_000))])
    row = ",".join(
        str(record[k]) if not isinstance(record[k], date) else record[k].isoformat() for k in F.RECORD_KEYS
    )
    result = parse(f"{header}\n{row}\n".encode(), "r.csv")
    assert not result.rejected
    unknown = [p for p in result.problems if p.rule == "field_unknown"]
    assert len(unknown) == 21
    assert [p.cell for p in unknown[:3]] == ["AI1", "AJ1", "AK1"]
    assert "另有 19,980 处同类问题" in unknown[-1].message
    assert unknown[-1].value == "19980"
    assert unknown[-1].severity is Severity.WARN

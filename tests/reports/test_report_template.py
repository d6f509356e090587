"""The ministry's form: its layout, its protections, and that whatever it holds parses back."""

from __future__ import annotations

import io
from datetime import date

import openpyxl
import pytest
from report_builders import parse, xlsx_bytes

from recruitment_month.reports import fields as F
from recruitment_month.reports import template
from recruitment_month.reports.template import fill_template, write_template


def _label_rows(sheet) -> dict[str, int]:
    return {c.value: c.row for c in sheet["A"] if isinstance(c.value, str)}


def test_the_form_has_labels_a_count_table_and_free_text(tmp_path, campaign):
    path = write_template(tmp_path / "周报模板.xlsx", campaign=campaign)
    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames == ["周报", "填报说明"]
    sheet = workbook["周报"]

    assert campaign.name in sheet["A1"].value
    assert sheet["A1"].font.b
    assert "A1:C1" in {str(r) for r in sheet.merged_cells.ranges}
    rows = _label_rows(sheet)
    id_rows = [rows[spec.header] for spec in F.ID_FIELDS]
    header = rows["指标"]
    count_rows = [rows[spec.header] for spec in F.COUNT_FIELDS]
    text_rows = [rows[spec.header] for spec in F.TEXT_FIELDS]
    assert id_rows == sorted(id_rows)
    assert max(id_rows) < header < min(count_rows)
    assert count_rows == list(range(header + 1, header + 1 + len(F.COUNT_FIELDS)))
    assert max(count_rows) < min(text_rows)
    assert [sheet.cell(header, c).value for c in (1, 2, 3)] == ["指标", "本周", "累计"]
    assert all(sheet.cell(header, c).font.b for c in (1, 2, 3))
    assert all(sheet.cell(r, 1).font.b for r in id_rows + text_rows)
    assert all(sheet.cell(r, 2).value is None for r in id_rows + count_rows + text_rows)
    assert sheet.column_dimensions["A"].width >= 30


def test_count_cells_take_whole_numbers_and_only_values_are_unlocked(tmp_path, campaign):
    sheet = openpyxl.load_workbook(write_template(tmp_path / "t.xlsx", campaign=campaign))["周报"]
    rows = _label_rows(sheet)
    first, last = rows[F.COUNT_FIELDS[0].header], rows[F.COUNT_FIELDS[-1].header]

    whole = [dv for dv in sheet.data_validations.dataValidation if dv.type == "whole"]
    assert len(whole) == 1
    [rule] = whole
    assert (rule.operator, rule.formula1) == ("greaterThanOrEqual", "0")
    assert str(rule.sqref) == f"B{first}:C{last}"
    assert rule.showErrorMessage
    assert "整数" in rule.error
    assert "不小于 0" in rule.error
    weeks = next(
        dv for dv in sheet.data_validations.dataValidation if str(dv.sqref) == f"B{rows['统计截止日期']}"
    )
    assert all(w.isoformat() in weeks.formula1 for w in campaign.weeks)

    assert sheet.protection.sheet is True
    assert sheet.protection.password is None
    for row in rows.values():
        assert sheet.cell(row, 1).protection.locked
    for spec in F.ID_FIELDS + F.COUNT_FIELDS + F.TEXT_FIELDS:
        assert sheet.cell(rows[spec.header], 2).protection.locked is False
    for spec in F.COUNT_FIELDS:
        assert sheet.cell(rows[spec.header], 3).protection.locked is False


def test_the_protected_form_is_a_plain_workbook_not_an_encrypted_one(tmp_path, campaign):
    content = write_template(tmp_path / "t.xlsx", campaign=campaign).read_bytes()
    assert content.startswith(b"PK\x03\x04")
    result = parse(content, "t.xlsx")  # blank: the unit and week are what is missing, nothing else
    assert {(p.rule, p.cell) for p in result.problems if p.severity == "reject"} == {
        ("field_missing", "B4"),
        ("field_missing", "B5"),
    }


def test_instructions_say_how_when_and_where(tmp_path, campaign):
    workbook = openpyxl.load_workbook(write_template(tmp_path / "t.xlsx", campaign=campaign, unit="110000"))
    text = "\n".join(str(c.value) for row in workbook["填报说明"].iter_rows() for c in row if c.value)
    for expected in (
        "每周五 17:00",
        "北京时间",
        "<报送目录>/110000/",
        "整数",
        "“约”",
        "累计数不能小于本周数",
        ".xlsm",
        "GB18030",
        campaign.ministry.phone,
        campaign.notice,
        *(w.isoformat() for w in campaign.weeks),
        *(F.display_name(k) for k in F.RECORD_KEYS),
        *F.RECORD_KEYS,
        "660000",
        "新疆生产建设兵团",
    ):
        assert expected in text, expected


def test_the_form_can_be_prefilled_for_a_unit_and_week(tmp_path, campaign):
    path = write_template(tmp_path / "t.xlsx", campaign=campaign, unit="广西", week_ending=date(2022, 11, 18))
    sheet = openpyxl.load_workbook(path)["周报"]
    assert (sheet["B4"].value, sheet["C4"].value, sheet["B5"].value) == (
        "450000",
        "广西壮族自治区",
        "2022-11-18",
    )
    result = parse(path.read_bytes(), path.name)
    assert result.declared == {"unit_code": "450000", "week_ending": date(2022, 11, 18)}


def test_an_unknown_unit_is_refused(tmp_path, campaign):
    with pytest.raises(ValueError, match="火星"):
        write_template(tmp_path / "t.xlsx", campaign=campaign, unit="火星")


def test_a_filled_form_round_trips(tmp_path, record):
    path = fill_template(tmp_path / "广东.xlsx", record)
    result = parse(path.read_bytes(), path.name)
    assert result.problems == []
    assert result.record == record


def test_inserted_rows_and_columns_do_not_matter(tmp_path, record):
    """Fields are found by their labels: a blank row above the form, a row inside the table, a
    numbering column in front."""
    path = fill_template(tmp_path / "广东.xlsx", record)
    workbook = openpyxl.load_workbook(path)
    sheet = workbook["周报"]
    for merged in list(sheet.merged_cells.ranges):  # openpyxl does not move merged ranges
        sheet.unmerge_cells(str(merged))
    sheet.insert_rows(3)
    sheet.insert_rows(_label_rows(sheet)["指标"] + 1)
    sheet.insert_rows(_label_rows(sheet)["提供岗位(个)"])
    sheet.insert_cols(1)
    for n, row in enumerate(range(12, 30), start=1):
        sheet.cell(row, 1, n)

    def parsed():
        buffer = io.BytesIO()
        workbook.save(buffer)
        return parse(buffer.getvalue(), "广东.xlsx")

    result = parsed()
    assert result.problems == []
    assert result.record == record

    positions_row = next(c.row for c in sheet["B"] if c.value == "提供岗位(个)")
    sheet.cell(positions_row, 3, "约300")
    [found] = parsed().problems
    assert (found.rule, found.cell) == ("count_not_integer", "C17")  # B14 moved three rows and a column


def test_labels_typed_with_fullwidth_parentheses_and_colons_are_found(tmp_path, record):
    def retype(workbook):
        for row in workbook["周报"].iter_rows(min_col=1, max_col=1):
            cell = row[0]
            if isinstance(cell.value, str):
                cell.value = cell.value.replace("(", "（").replace(")", "）")
                if cell.value in ("填报人", "联系电话"):
                    cell.value += "："

    assert parse(xlsx_bytes(record, edit=retype), "r.xlsx").record == record


def test_output_is_byte_for_byte_deterministic(tmp_path, record, campaign):
    first = fill_template(tmp_path / "a.xlsx", record).read_bytes()
    second = fill_template(tmp_path / "b.xlsx", record).read_bytes()
    assert first == second
    blank = write_template(tmp_path / "c.xlsx", campaign=campaign).read_bytes()
    assert blank == write_template(tmp_path / "d.xlsx", campaign=campaign).read_bytes()


def test_command_line(tmp_path, capsys):
    out = tmp_path / "北京.xlsx"
    assert template.main([str(out), "--unit", "北京", "--week", "2022-11-25"]) == 0
    assert str(out) in capsys.readouterr().out
    assert parse(out.read_bytes(), out.name).declared == {
        "unit_code": "110000",
        "week_ending": date(2022, 11, 25),
    }
    with pytest.raises(SystemExit):
        template.main([str(out), "--week", "2022-11-24"])

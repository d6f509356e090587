"""The ministry's ``.xlsx`` form for the provincial weekly report (docs/reports.md).

Sheet ``周报``: a title, the identification fields as label/value pairs (labels in column A, values in
column B), the table ``指标 | 本周 | 累计`` with one row per count, then the two free-text fields. Sheet
``填报说明`` says how to fill it in and lists the column names of the flat formats and the unit codes.
Labels are locked and the sheet protected without a password (a password-protected sheet is not
encrypted, but nobody should need a password to fix a label); value cells are unlocked and the count
cells only take whole numbers ≥ 0.

The parser finds the fields by their labels, not by these addresses, so a row inserted by a province
does no harm. Output is byte-for-byte deterministic (fixed zip and document timestamps).

    python -m recruitment_month.reports.template OUT.xlsx [--unit 110000] [--week 2022-11-11]

Pure module: no Airflow import.
"""

from __future__ import annotations

import argparse
import io
import re
import zipfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recruitment_month import config
from recruitment_month.reports import fields as F
from recruitment_month.xlsx import put

if TYPE_CHECKING:
    from openpyxl import Workbook

SHEET = "周报"
INSTRUCTIONS_SHEET = "填报说明"
TABLE_HEADER = ("指标", F.WEEK, F.CUMULATIVE)

# Row layout of the generated form (1-based). Readers must not rely on it: they look for labels.
TITLE_ROW = 1
ID_FIRST_ROW = 4
TABLE_HEADER_ROW = ID_FIRST_ROW + len(F.ID_FIELDS) + 1
COUNT_FIRST_ROW = TABLE_HEADER_ROW + 1
TEXT_FIRST_ROW = COUNT_FIRST_ROW + len(F.COUNT_FIELDS) + 1

_WEEKDAY_CN = {"monday": "一", "tuesday": "二", "wednesday": "三", "thursday": "四", "friday": "五"}
_WEEKDAY_CN |= {"saturday": "六", "sunday": "日"}
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def _deadline_phrase(campaign: config.Campaign) -> str:
    return f"每周{_WEEKDAY_CN[campaign.deadline_weekday]} {campaign.deadline_time}"


def _unit(unit: str | config.Unit | None) -> config.Unit | None:
    if unit is None or isinstance(unit, config.Unit):
        return unit
    units = config.units()
    code = units.resolve(unit)
    if code is None:
        raise ValueError(f"unknown reporting unit {unit!r}")
    return units.by_code()[code]


def build_workbook(
    campaign: config.Campaign,
    *,
    unit: str | config.Unit | None = None,
    week_ending: date | None = None,
    values: dict[str, Any] | None = None,
) -> Workbook:
    """The form as an openpyxl workbook, optionally filled with ``values`` (record keys → cell values,
    written as given, so a test or the demo can also write what people mistype)."""
    from openpyxl import Workbook

    resolved, values = _form_values(unit, week_ending, values)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = SHEET
    styles = _Styles.make()
    _write_title(sheet, campaign, styles)
    _write_identification(sheet, campaign, resolved, values, styles)
    _write_counts(sheet, values, styles)
    _write_text_fields(sheet, values, styles)
    sheet.column_dimensions["A"].width = 34
    sheet.column_dimensions["B"].width = 18
    sheet.column_dimensions["C"].width = 30
    _add_count_and_week_validation(sheet, campaign)

    sheet.protection.sheet = True
    sheet.protection.formatColumns = False
    sheet.protection.formatRows = False
    sheet.protection.insertRows = False

    _write_instructions(workbook, campaign, resolved)
    _add_unit_validation(sheet)
    workbook.active = 0
    properties = workbook.properties
    properties.title = f"{campaign.name} 省级周报"
    properties.creator = campaign.ministry.department
    properties.created = datetime.combine(campaign.notice_date, time())
    return workbook


def _form_values(
    unit: str | config.Unit | None, week_ending: date | None, values: dict[str, Any] | None
) -> tuple[config.Unit | None, dict[str, Any]]:
    """The unit shown on the form and the values to write, the unit's code and the week filled in."""
    resolved = _unit(unit)
    values = dict(values or {})
    if resolved is None and values.get("unit_code") is not None:  # for the name shown beside the code
        code = config.units().resolve(str(values["unit_code"]))
        resolved = config.units().by_code()[code] if code else None
    if resolved is not None:
        values.setdefault("unit_code", resolved.code)
    if week_ending is not None:
        values.setdefault("week_ending", week_ending.isoformat())
    if isinstance(values.get("week_ending"), date):
        values["week_ending"] = values["week_ending"].isoformat()
    return resolved, values


@dataclass(frozen=True)
class _Styles:
    """The form sheet's cell styles."""

    bold: Any
    box: Any
    label_fill: Any
    header_fill: Any
    unlocked: Any
    hint_font: Any

    @classmethod
    def make(cls) -> _Styles:
        from openpyxl.styles import Border, Font, PatternFill, Protection, Side

        thin = Side(style="thin", color="999999")
        return cls(
            bold=Font(bold=True),
            box=Border(left=thin, right=thin, top=thin, bottom=thin),
            label_fill=PatternFill("solid", fgColor="F2F2F2"),
            header_fill=PatternFill("solid", fgColor="DDEBF7"),
            unlocked=Protection(locked=False),
            hint_font=Font(italic=True, color="808080"),
        )


def _write_title(sheet: Any, campaign: config.Campaign, styles: _Styles) -> None:
    from openpyxl.styles import Alignment, Font

    sheet.merge_cells(start_row=TITLE_ROW, start_column=1, end_row=TITLE_ROW, end_column=3)
    title = put(sheet, TITLE_ROW, 1, f"{campaign.name} 省级周报")
    title.font = Font(bold=True, size=14)
    title.alignment = Alignment(horizontal="center", vertical="center")
    sheet.row_dimensions[TITLE_ROW].height = 28
    sheet.merge_cells(start_row=TITLE_ROW + 1, start_column=1, end_row=TITLE_ROW + 1, end_column=3)
    subtitle = put(
        sheet,
        TITLE_ROW + 1,
        1,
        f"请于{_deadline_phrase(campaign)}（北京时间）前报送；填写方法见“{INSTRUCTIONS_SHEET}”工作表。",
    )
    subtitle.font = styles.hint_font
    subtitle.alignment = Alignment(horizontal="center")


def _write_identification(
    sheet: Any,
    campaign: config.Campaign,
    resolved: config.Unit | None,
    values: dict[str, Any],
    styles: _Styles,
) -> None:
    hints = {
        "unit_code": resolved.name if resolved else "6 位单位代码，如 110000",
        "week_ending": "该周周五的日期，如 " + campaign.weeks[0].isoformat(),
        "contact_phone": "如 010-66097865",
    }
    for offset, spec in enumerate(F.ID_FIELDS):
        row = ID_FIRST_ROW + offset
        label = put(sheet, row, 1, spec.header)
        label.font, label.fill, label.border = styles.bold, styles.label_fill, styles.box
        value = put(sheet, row, 2, values.get(spec.key))
        value.number_format = "@"  # codes, dates typed as text and phone numbers keep their leading zeros
        value.protection, value.border = styles.unlocked, styles.box
        if spec.key in hints:
            put(sheet, row, 3, hints[spec.key]).font = styles.hint_font


def _write_counts(sheet: Any, values: dict[str, Any], styles: _Styles) -> None:
    from openpyxl.styles import Alignment

    for col, text in enumerate(TABLE_HEADER, start=1):
        cell = put(sheet, TABLE_HEADER_ROW, col, text)
        cell.font, cell.fill, cell.border = styles.bold, styles.header_fill, styles.box
        cell.alignment = Alignment(horizontal="center")
    for offset, spec in enumerate(F.COUNT_FIELDS):
        row = COUNT_FIRST_ROW + offset
        label = put(sheet, row, 1, spec.header)
        label.border = styles.box
        for col, key in ((2, spec.key), (3, F.cumulative_key(spec.key))):
            cell = put(sheet, row, col, values.get(key))
            cell.number_format = "#,##0"
            cell.protection, cell.border = styles.unlocked, styles.box


def _write_text_fields(sheet: Any, values: dict[str, Any], styles: _Styles) -> None:
    from openpyxl.styles import Alignment

    for offset, spec in enumerate(F.TEXT_FIELDS):
        row = TEXT_FIRST_ROW + offset
        label = put(sheet, row, 1, spec.header)
        label.font, label.fill, label.border = styles.bold, styles.label_fill, styles.box
        label.alignment = Alignment(vertical="top")
        sheet.merge_cells(start_row=row, start_column=2, end_row=row, end_column=3)
        value = put(sheet, row, 2, values.get(spec.key))
        value.alignment = Alignment(wrap_text=True, vertical="top")
        value.protection = styles.unlocked
        sheet.cell(row, 3).protection = styles.unlocked
        for col in (2, 3):
            sheet.cell(row, col).border = styles.box
        sheet.row_dimensions[row].height = 96


def _add_count_and_week_validation(sheet: Any, campaign: config.Campaign) -> None:
    """Whole numbers ≥ 0 in the count cells; the campaign's Fridays offered for the week."""
    from openpyxl.worksheet.datavalidation import DataValidation

    count_range = f"B{COUNT_FIRST_ROW}:C{COUNT_FIRST_ROW + len(F.COUNT_FIELDS) - 1}"
    counts = DataValidation(
        type="whole",
        operator="greaterThanOrEqual",
        formula1="0",
        allow_blank=True,
        showErrorMessage=True,
        errorTitle="请填写整数",
        error="请填写不小于 0 的整数，不要带单位或“约”“余”等字样；没有开展的活动填 0。",
        showInputMessage=True,
        promptTitle="本周 / 累计",
        prompt="本周：本周新增数；累计：活动开始以来的总数（含本周），应不小于本周数。",
    )
    counts.add(count_range)
    sheet.add_data_validation(counts)
    weeks = ",".join(w.isoformat() for w in campaign.weeks)
    week_row = ID_FIRST_ROW + 1
    if len(weeks) <= 250:  # Excel's limit on an inline list
        week_list = DataValidation(
            type="list",
            formula1=f'"{weeks}"',
            allow_blank=True,
            showErrorMessage=True,
            errorStyle="warning",
            errorTitle="统计截止日期",
            error="请选择本次活动的报送周五，如 " + campaign.weeks[0].isoformat() + "。",
        )
        week_list.add(f"B{week_row}")
        sheet.add_data_validation(week_list)


def _add_unit_validation(sheet: Any) -> None:
    """The unit codes of the instructions sheet's table offered for the unit."""
    from openpyxl.worksheet.datavalidation import DataValidation

    unit_rows = _UNIT_TABLE_FIRST_ROW, _UNIT_TABLE_FIRST_ROW + len(config.units().units) - 1
    unit_list = DataValidation(
        type="list",
        formula1=f"'{INSTRUCTIONS_SHEET}'!$A${unit_rows[0]}:$A${unit_rows[1]}",
        allow_blank=True,
        showErrorMessage=True,
        errorStyle="warning",
        errorTitle="填报单位代码",
        error=f"请填写 6 位单位代码（见“{INSTRUCTIONS_SHEET}”工作表），或单位全称。",
    )
    unit_list.add(f"B{ID_FIRST_ROW}")
    sheet.add_data_validation(unit_list)


_INSTRUCTIONS_TITLE_ROW = 1
_CHARS_PER_LINE = 42  # Chinese characters across the merged columns A:C
_FIELD_TABLE_FIRST_ROW = 18
_UNIT_TABLE_FIRST_ROW = _FIELD_TABLE_FIRST_ROW + len(F.RECORD_KEYS) + 4


def _write_instructions(workbook: Workbook, campaign: config.Campaign, unit: config.Unit | None) -> None:
    from openpyxl.styles import Alignment, Font, PatternFill

    sheet = workbook.create_sheet(INSTRUCTIONS_SHEET)
    bold = Font(bold=True)
    header_fill = PatternFill("solid", fgColor="DDEBF7")
    folder = f"<报送目录>/{unit.code}/" if unit else "<报送目录>/<单位代码>/"
    weeks = campaign.weeks
    ministry = campaign.ministry
    lines = [
        f"{campaign.name} 省级周报 填报说明",
        "",
        f"1. 本表依据教育部办公厅通知（{campaign.notice}），由各省级教育行政部门和新疆生产建设兵团教育局每周报送一份，"
        "汇总本地区本周校园招聘月各项活动开展情况。",
        f"2. 报送时间：{_deadline_phrase(campaign)}（北京时间）前。本次活动共 {len(weeks)} 个报送周，"
        f"“统计截止日期”填写该周周五的日期：{'、'.join(w.isoformat() for w in weeks)}。",
        f"3. 报送方式：将填好的文件上传到本单位的报送目录 {folder}（目录名是 6 位单位代码，文件名不限）。"
        "系统以文件到达报送目录的时间判断是否按时，不以表内日期为准。",
        "4. 更正：同一周可重复上传，每份文件都会保存，以最后一份通过校验的文件为准。"
        "文件未通过校验时，系统会发送说明具体单元格和原因的通知，请按通知修改后重新上传。",
        "5. 数字规则：只填阿拉伯数字整数，不要带单位，不要写“约”“余”“左右”或范围；没有开展的活动填 0 或留空。"
        "“本周”为本周新增数，“累计”为活动开始以来的总数（含本周），累计数不能小于本周数。",
        f"6. 请在“{SHEET}”工作表填写，不要改动工作表名称和 A 列的栏目名称；可以插入空行。"
        "请保存为 .xlsx 格式，不要另存为 .xls 或启用宏的 .xlsm，不要设置打开密码。",
        "7. 也可以报送 CSV（UTF-8 或 GB18030 编码，第一行为列名、第二行为数据）或 JSON（一个对象）文件，"
        "列名见下表（中文列名或英文键名均可）。",
        f"8. 联系人：{ministry.department} {ministry.contact_name}，电话 {ministry.phone}，"
        f"电子信箱 {ministry.email}。",
    ]
    for row, text in enumerate(lines, start=_INSTRUCTIONS_TITLE_ROW):
        cell = put(sheet, row, 1, text or None)
        if row == _INSTRUCTIONS_TITLE_ROW:
            cell.font = Font(bold=True, size=14)
        elif text:  # a paragraph across the three table columns, wrapped
            sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=3)
            cell.alignment = Alignment(wrap_text=True, vertical="top")
            sheet.row_dimensions[row].height = 16 * (len(text) // _CHARS_PER_LINE + 1)

    put(sheet, _FIELD_TABLE_FIRST_ROW - 2, 1, "栏目与 CSV/JSON 列名").font = bold
    for col, text in enumerate(("英文键名", "中文列名", "类型"), start=1):
        cell = put(sheet, _FIELD_TABLE_FIRST_ROW - 1, col, text)
        cell.font, cell.fill = bold, header_fill
    kinds = {"id": "标识", "count": "整数 ≥ 0", "text": "文字"}
    for offset, key in enumerate(F.RECORD_KEYS):
        row = _FIELD_TABLE_FIRST_ROW + offset
        put(sheet, row, 1, key)
        put(sheet, row, 2, F.display_name(key))
        put(sheet, row, 3, kinds[F.spec_of(key).kind])

    put(sheet, _UNIT_TABLE_FIRST_ROW - 2, 1, "单位代码").font = bold
    for col, text in enumerate(("单位代码", "单位名称", "英文名称"), start=1):
        cell = put(sheet, _UNIT_TABLE_FIRST_ROW - 1, col, text)
        cell.font, cell.fill = bold, header_fill
    for offset, each in enumerate(config.units().units):
        row = _UNIT_TABLE_FIRST_ROW + offset
        put(sheet, row, 1, each.code).number_format = "@"
        put(sheet, row, 2, each.name)
        put(sheet, row, 3, each.name_en)

    sheet.column_dimensions["A"].width = 30
    sheet.column_dimensions["B"].width = 34
    sheet.column_dimensions["C"].width = 24
    sheet.protection.sheet = True


_MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")


def workbook_bytes(workbook: Workbook, *, modified: datetime | None = None) -> bytes:
    """The workbook as ``.xlsx`` bytes, the same bytes for the same workbook: zip entry times and the
    document's modified time are fixed (``modified``, default: its created time)."""
    buffer = io.BytesIO()
    workbook.save(buffer)
    stamp = (modified or workbook.properties.created or datetime(2000, 1, 1, tzinfo=UTC)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(buffer) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "docProps/core.xml":
                data = _MODIFIED.sub(rb"\g<1>" + stamp.encode() + rb"\g<2>", data)
            target.writestr(zipfile.ZipInfo(info.filename, _ZIP_TIME), data, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def write_template(
    path: str | Path,
    *,
    campaign: config.Campaign,
    unit: str | config.Unit | None = None,
    week_ending: date | None = None,
) -> Path:
    """Write the blank form, optionally with the unit and the week filled in. Returns the path."""
    path = Path(path)
    path.write_bytes(workbook_bytes(build_workbook(campaign, unit=unit, week_ending=week_ending)))
    return path


def fill_template(
    path: str | Path, record: dict[str, Any], *, campaign: config.Campaign | None = None
) -> Path:
    """Write the form filled with a record (record keys → values, written as given). Returns the path."""
    path = Path(path)
    workbook = build_workbook(campaign or config.campaign(), values=record)
    path.write_bytes(workbook_bytes(workbook))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m recruitment_month.reports.template",
        description="Write the ministry's .xlsx form of the provincial weekly report.",
    )
    parser.add_argument("out", type=Path, help="the .xlsx file to write")
    parser.add_argument("--unit", help="pre-fill the unit (6-digit code or name)")
    parser.add_argument("--week", type=date.fromisoformat, help="pre-fill the week ending (YYYY-MM-DD)")
    args = parser.parse_args(argv)
    campaign = config.campaign()
    if args.week is not None and args.week not in campaign.weeks:
        parser.error(f"{args.week} is not a reporting Friday of {campaign.code}")
    try:
        path = write_template(args.out, campaign=campaign, unit=args.unit, week_ending=args.week)
    except ValueError as exc:
        parser.error(str(exc))
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

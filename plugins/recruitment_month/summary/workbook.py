"""The ``.xlsx`` attachment of the weekly summary: every table of the email as its own sheet.

For people who live in Excel: a bold, coloured, frozen header row on every sheet, an autofilter over
each table's rows (a total row sits below the filtered range, so sorting never moves it), numbers
stored as numbers with thousands separators, rates as percentages, week-over-week changes as
``↑12.3%`` / ``↓4.5%``, times in Beijing time, column widths fitted to the content, and landscape
printing one page wide with the header repeated. The workbook holds every column (the email shows a
selection) and every row (the email shows the top provinces only).

The bytes are the same for the same summary (fixed zip and document times).

Pure module: no Airflow import; openpyxl is imported inside the functions.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from recruitment_month.summary.content import DATA_DOCS_LABEL, Column, Content, Row, Table, cell, fmt_change
from recruitment_month.summary.model import STATUS_LABELS
from recruitment_month.xlsx import put

if TYPE_CHECKING:
    from openpyxl.worksheet.worksheet import Worksheet

OVERVIEW = "概览"
SHEET_ORDER = (
    "status",
    "national",
    "units",
    "warnings",
    "platforms",
    "provinces",
    "industries",
    "crosscheck",
    "trend",
    "texts",
)

FORMATS = {
    "int": "#,##0",
    "pct": "0.0%",
    "change": '"↑"0.0%;"↓"0.0%;"持平"',
    "ratio": "0.00",
    "time": "yyyy-mm-dd hh:mm",
    "date": "yyyy-mm-dd",
}
HEADER_FILL = "1F4E79"
TONE_FILLS = {
    "flag": "FFE4E1",
    "key": "E8F0FA",
    "late": "FFF3D6",
    "missing": "FFE4E1",
    "rejected": "EFE6FF",
}
STATUS_FONTS = {
    "on_time": "1A7F37",
    "late": "B35900",
    "missing": "CF222E",
    "rejected": "8250DF",
    "exempt": "57606A",
}
WRAP_KEYS = {"note", "message", "flag", "highlights", "problems"}


def _width(text: str) -> int:
    """Display width in Excel's character units: CJK and full-width characters count two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _excel_value(value: Any, kind: str) -> Any:
    """A raw value as the cell holds it (numbers stay numbers; times lose their zone, being local)."""
    if value is None or value == "":
        return None
    if kind == "status":
        return STATUS_LABELS[value]
    if kind == "flag":
        return "是" if value else None
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    return value


def _kind(column_kind: str, value: Any) -> str:
    if isinstance(value, date) and not isinstance(value, datetime):
        return "date"
    return column_kind


def _style_header(sheet: Worksheet, row: int, count: int) -> None:
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

    white = Side(style="thin", color="FFFFFF")
    for col in range(1, count + 1):
        c = sheet.cell(row=row, column=col)
        c.font = Font(bold=True, color="FFFFFF")
        c.fill = PatternFill("solid", fgColor=HEADER_FILL)
        c.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        c.border = Border(left=white, right=white)


def _finish(sheet: Worksheet, widths: list[int], header_lines: int = 1) -> None:
    from openpyxl.utils import get_column_letter

    for i, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = width
    sheet.row_dimensions[1].height = 18 * header_lines + 6
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_title_rows = "1:1"


@dataclass(frozen=True)
class _RowStyle:
    """How one row of a table is drawn: its fill, and whether it is the total row."""

    fill: Any
    is_total: bool


def _row_style(table: Table, row: Row) -> _RowStyle:
    from openpyxl.styles import PatternFill

    fill = PatternFill("solid", fgColor=TONE_FILLS[row.tone]) if row.tone in TONE_FILLS else None
    return _RowStyle(fill, row is table.total)


def _write_cell(
    sheet: Worksheet, position: tuple[int, int], column: Column, raw: Any, style: _RowStyle
) -> str:
    """Write one value of a table with its number format and style; returns the text it shows."""
    from openpyxl.styles import Alignment, Border, Font, Side

    value = _excel_value(raw, column.kind)
    c = put(sheet, *position, value)
    kind = _kind(column.kind, raw)
    if kind in FORMATS and value is not None:
        c.number_format = FORMATS[kind]
    c.alignment = Alignment(wrap_text=column.key in WRAP_KEYS, vertical="top")
    if style.fill is not None:
        c.fill = style.fill
    if column.kind == "status" and raw in STATUS_FONTS:
        c.font = Font(bold=raw != "on_time", color=STATUS_FONTS[raw])
    if style.is_total:
        c.font = Font(bold=True)
        c.border = Border(top=Side(style="thin", color="8C959F"))
    if value is None:
        return ""
    return fmt_change(raw) if kind == "change" else cell(raw, column.kind)


def _column_width(column: Column, content: int) -> int:
    """A column's width from its widest shown value (``content``, padding included) and its header."""
    header = _width(column.label)
    if column.key in WRAP_KEYS:
        return max(12, min(60, content))
    if column.numeric:
        return max(content, min(header + 2, 16), 8)
    return max(content, min(header + 2, 24), 6)


def write_table(sheet: Worksheet, table: Table) -> None:
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    columns = table.columns
    for col, column in enumerate(columns, start=1):
        put(sheet, 1, col, column.label)
    _style_header(sheet, 1, len(columns))
    shown = [0] * len(columns)
    rows = [*table.rows, *([table.total] if table.total else [])]
    for r, row in enumerate(rows, start=2):
        style = _row_style(table, row)
        for col, column in enumerate(columns, start=1):
            text = _write_cell(sheet, (r, col), column, row[column.key], style)
            shown[col - 1] = max(shown[col - 1], _width(text))
    widths = [_column_width(column, shown[i] + 2) for i, column in enumerate(columns)]
    lines = max([1, *(-(-(_width(c.label) + 2) // w) for c, w in zip(columns, widths, strict=True))])
    if not rows:
        c = put(sheet, 2, 1, table.empty)
        c.font = Font(italic=True, color="57606A")
    last_data_row = 1 + len(table.rows)
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{max(last_data_row, 1)}"
    frozen = next((i for i, c in enumerate(columns) if c.key == "name"), None)
    sheet.freeze_panes = f"{get_column_letter((frozen or 0) + 2)}2" if frozen is not None else "A2"
    _finish(sheet, widths, min(lines, 3))


def _overview_status(content: Content) -> list[tuple[str, Any, str | None]]:
    s = content.summary
    tz = s.deadline.tzinfo
    items: list[tuple[str, Any, str | None]] = [
        ("活动", s.campaign_name, None),
        ("报表", content.title, None),
        ("周次", f"第{s.week_number}周（共{s.weeks_total}周）", None),
        ("统计截止日期", s.week_ending, "date"),
        ("报送截止时间（北京时间）", s.deadline.astimezone(tz).replace(tzinfo=None), "time"),
        ("版本", f"第{s.version}版（{'修订' if s.is_revised else '初步'}）", None),
        ("本版生成时间（北京时间）", s.generated_at.astimezone(tz).replace(tzinfo=None), "time"),
        ("应报单位数", s.expected, "int"),
        ("已报单位数", s.reported, "int"),
        ("按时报送", s.on_time, "int"),
        ("逾期报送", s.late, "int"),
        ("未报送", s.missing, "int"),
        ("未通过校验", s.rejected, "int"),
        ("报送率", s.reporting_rate, "pct"),
        ("按时率", s.on_time_rate, "pct"),
    ]
    items += [(f"{a.label}单位", "、".join(a.units), None) for a in content.attention]
    return items


def _overview_figures(content: Content) -> list[tuple[str, Any, str | None]]:
    s = content.summary
    items: list[tuple[str, Any, str | None]] = []
    for f in content.figures:
        items.append((f"{f.label}（{f.unit}）本周", f.week, "int"))
        items.append((f"{f.label}（{f.unit}）累计", f.cumulative, "int"))
        items.append((f"{f.label}（{f.unit}）较上周", f.change, "change"))
    if s.feeds is not None:
        items.append(("招聘平台新发布岗位信息（条）", s.feeds.new_postings, "int"))
        items.append(("招聘平台招聘人数（人）", s.feeds.openings, "int"))
        items.append(("跨平台重复率", s.feeds.duplicate_rate, "pct"))
    items.append(("数据质量提示（条）", len(s.warnings), "int"))
    items += [(f"修订说明{i}", line, None) for i, line in enumerate(s.changes, start=1)]
    if content.data_docs_url:
        items.append((DATA_DOCS_LABEL, content.data_docs_url, None))
    items += [(f"说明{i}", line, None) for i, line in enumerate(content.notes, start=1)]
    return items


def write_items(sheet: Worksheet, items: list[tuple[str, Any, str | None]], link: str | None = None) -> None:
    """A two-column sheet of labelled values (``kind`` gives a value's number format; None is text);
    the value equal to ``link`` becomes a hyperlink."""
    from openpyxl.styles import Alignment, Font

    put(sheet, 1, 1, "项目")
    put(sheet, 1, 2, "数值")
    _style_header(sheet, 1, 2)
    width = 10
    for r, (label, value, kind) in enumerate(items, start=2):
        put(sheet, r, 1, label).font = Font(bold=True)
        c = put(sheet, r, 2, value)
        if kind in FORMATS and value is not None:
            c.number_format = FORMATS[kind]
        c.alignment = Alignment(
            horizontal="left" if kind is None else "right", vertical="top", wrap_text=kind is None
        )
        if link and value == link:
            c.hyperlink = link
            c.font = Font(color="1F4E79", underline="single")
        width = max(width, _width(label))
    sheet.freeze_panes = "A2"
    _finish(sheet, [width + 2, 80])


def _write_overview(sheet: Worksheet, content: Content) -> None:
    write_items(sheet, _overview_status(content) + _overview_figures(content), content.data_docs_url)


def sheet_names(content: Content) -> list[str]:
    return [OVERVIEW, *(content.tables[k].sheet for k in SHEET_ORDER if k in content.tables)]


def build_workbook(content: Content):
    """The workbook as an openpyxl ``Workbook``."""
    from openpyxl import Workbook

    workbook = Workbook()
    overview = workbook.active
    overview.title = OVERVIEW
    _write_overview(overview, content)
    for key in SHEET_ORDER:
        if key in content.tables:
            table = content.tables[key]
            write_table(workbook.create_sheet(table.sheet), table)
    s = content.summary
    properties = workbook.properties
    properties.title = content.subject
    properties.creator = "校园招聘月数据平台"
    properties.created = s.generated_at.astimezone(UTC).replace(tzinfo=None)  # core.xml times are UTC
    return workbook


def workbook_bytes(content: Content) -> bytes:
    """The ``.xlsx`` bytes: the same summary always gives the same bytes."""
    from recruitment_month.reports.template import workbook_bytes as deterministic_bytes

    return deterministic_bytes(build_workbook(content))

"""Writing cells of a workbook that people open in Excel, WPS or LibreOffice: text stays text.

openpyxl turns a string that starts with ``=`` into a formula, and one that reads like ``#N/A`` into an
error value. Text the project writes comes partly from senders (a column name, a JSON key, a message
quoting a value), so ``=HYPERLINK("http://…","核实")`` or ``=cmd|' /C calc'!A0`` would become a live
formula in the ministry's attachment. :func:`put` stores every string as a string (and without the
control characters that openpyxl refuses and no reader needs).

Pure module: no Airflow import; openpyxl is imported by the callers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from recruitment_month.text import strip_control

if TYPE_CHECKING:
    from openpyxl.cell.cell import Cell
    from openpyxl.worksheet.worksheet import Worksheet


def put(sheet: Worksheet, row: int, column: int, value: Any = None) -> Cell:
    """``sheet.cell(row, column, value)``, with a string always stored as text, never as a formula."""
    cell = sheet.cell(row=row, column=column)
    if isinstance(value, str):
        cell.value = strip_control(value)
        cell.data_type = "s"
    elif value is not None:
        cell.value = value
    return cell

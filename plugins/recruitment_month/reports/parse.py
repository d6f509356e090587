"""Read one provincial weekly report file into a canonical record, or say exactly what is wrong.

``parse_report(content, filename, max_bytes=...)`` never raises for a bad file: everything wrong is a
:class:`~recruitment_month.problems.Problem` with a rule from :data:`RULES`, the place (spreadsheet cell,
CSV row and column, or JSON key), the value found and a polite Chinese message saying what is expected.
A reject-severity problem means the file is rejected (``record`` is None); warnings ride along with the
record.

The format is chosen from the content first (a zip is a workbook, an OLE container is an encrypted or
legacy workbook, a picture is a picture) and the file name's extension second. Workbooks are checked
before openpyxl opens them: size and compression ratio from the zip's central directory, macro content
types, encryption.

What needs history (cumulative = last week's cumulative + this week, outliers) and whether the declared
unit matches the inbox folder are checked by the caller.

Pure module: no Airflow import.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import logging
import re
import unicodedata
import warnings
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import PurePath
from typing import Any, Literal

from recruitment_month import config
from recruitment_month.problems import Problem, Severity, rejects
from recruitment_month.reports import fields as F
from recruitment_month.text import has_control, strip_control

log = logging.getLogger(__name__)

_R, _W = Severity.REJECT, Severity.WARN

RULES: dict[str, tuple[Severity, str]] = {
    # The file as a whole
    "file_empty": (_R, "文件为空"),
    "file_too_large": (_R, "文件超过大小上限"),
    "unsupported_format": (_R, "不支持的文件格式；请使用 .xlsx 模板、.csv 或 .json"),
    "xls_legacy": (_R, "旧版 Excel 97-2003 工作簿（.xls）；请另存为 .xlsx"),
    "not_a_workbook": (_R, "扩展名是 Excel 工作簿，内容却不是（如图片、PDF、文本）"),
    "workbook_encrypted": (_R, "工作簿设置了打开密码（已加密），无法读取"),
    "workbook_corrupt": (_R, "工作簿已损坏或不完整，无法打开"),
    "macro_workbook": (_R, "启用宏的工作簿（.xlsm）出于安全考虑不予接收"),
    "formula_uncomputed": (_R, "单元格是公式，但文件中没有保存计算结果"),
    "zip_bomb": (_R, "工作簿解压后体积异常（疑似压缩炸弹），未打开"),
    "sheet_missing": (_R, "工作簿中没有“周报”工作表"),
    "encoding": (_R, "文本文件无法按 UTF-8 或 GB18030 解码，或内容不是文本"),
    "csv_invalid": (_R, "CSV 文件格式有误"),
    "json_invalid": (_R, "JSON 语法有误，或不是一个报告对象"),
    "header_invalid": (_R, "找不到模板的栏目或列名"),
    "no_data": (_R, "文件中只有表头，没有报告数据"),
    "multiple_reports": (_R, "一个文件中有多份报告"),
    # Fields
    "field_missing": (_R, "缺少必填栏目，或必填项未填写"),
    "field_duplicate": (_R, "同一栏目出现多次且内容不一致"),
    "field_unknown": (_W, "无法识别的栏目，已忽略"),
    "unit_invalid": (_R, "填报单位代码或名称无法识别"),
    "date_invalid": (_R, "统计截止日期无法识别"),
    "week_invalid": (_R, "统计截止日期不是本次活动的报送周五"),
    "contact_missing": (_W, "未填写填报人或联系电话"),
    "control_characters": (_W, "内容中有不可见的控制字符，已删除"),
    "count_not_integer": (_R, "数量不是整数"),
    "count_negative": (_R, "数量为负数"),
    "count_too_large": (_R, "数量大得不合常理（超过 9 亿）"),
    # The record as a whole (no history needed)
    "cumulative_lt_weekly": (_R, "累计数小于本周数"),
    "counts_all_zero": (_W, "所有数量均为 0 或未填写"),
    "employers_gt_positions": (_W, "参会用人单位数多于提供岗位数"),
    # The parser itself
    "parse_failed": (_R, "读取文件时发生意外错误"),
}

SUPPORTED_EXTENSIONS = (".xlsx", ".csv", ".json")
FORM_SHEET = "周报"
MAX_COUNT = 999_999_999

# Zip limits checked from the central directory before a workbook is opened. A filled weekly form is a
# few dozen kilobytes unpacked; XML compresses about 5-20 times.
MAX_ZIP_ENTRIES = 500
MAX_UNCOMPRESSED_BYTES = 50 * 1024 * 1024
MAX_COMPRESSION_RATIO = 100
RATIO_CHECK_FLOOR = 2 * 1024 * 1024  # below this much unpacked data, the ratio does not matter

# How much of the form sheet is read: a form is about 30 rows and 3 columns, a flat table 34 columns.
MAX_FORM_ROWS = 500
MAX_FORM_COLS = 64

# Problems kept per rule and file: past this many, one more problem of the rule says how many others
# were found. A file with 20,000 unknown columns would otherwise store 20,000 problems and mail them.
MAX_PROBLEMS_PER_RULE = 20

Format = Literal["xlsx", "csv", "json"]


@dataclass
class ParseResult:
    """What a file holds.

    ``record`` is the canonical record when no reject-severity problem was found, else None.
    ``declared`` holds what the file says about itself as far as it could be read (``unit_code``,
    ``week_ending``), also for a rejected file, so a rejection can be attributed to a week.
    """

    record: dict | None
    problems: list[Problem]
    format: Format | None = None
    encoding: str | None = None
    declared: dict = field(default_factory=dict)

    @property
    def rejected(self) -> bool:
        return bool(rejects(self.problems))


def problem(rule: str, message: str, **where: Any) -> Problem:
    """A problem for a rule of :data:`RULES` (its severity comes from there)."""
    severity, _ = RULES[rule]
    return Problem(rule=rule, severity=severity, message=message, **where)


# ---------------------------------------------------------------------------------------------------
# Values as people type them


class ValueIssue(ValueError):
    """A value that cannot be read; ``rule`` is a key of RULES, ``hint`` says what is expected."""

    def __init__(self, rule: str, hint: str) -> None:
        super().__init__(hint)
        self.rule = rule
        self.hint = hint


_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))
_PLAIN_NUMBER = re.compile(r"^\+?(\d{1,3}(?:,\d{3})+|\d+)(?:\.0*)?$")
_NEGATIVE_NUMBER = re.compile(r"^-\s*(\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?$")
_DECIMAL = re.compile(r"^\+?(\d{1,3}(?:,\d{3})+|\d+)\.\d+$")
_APPROXIMATE = re.compile(r"约|大约|大概|左右|上下|余|多|近|超过|以上|以下|不到|[~～]|\d\s*-\s*\d")
_WITH_UNIT = re.compile(r"^\d[\d,.]*\s*([^\d\s,.]+)$")


def _fold(text: str) -> str:
    """NFKC (full-width digits, commas and spaces to ASCII), a real minus sign, no invisible marks."""
    return unicodedata.normalize("NFKC", text).translate(_INVISIBLE).replace("\u2212", "-").strip()


def normalise_count(value: object) -> int:
    """A count as typed (``1,234``, ``１２３４``, ``1234.0``, `` 12 ``, an empty cell, 12.0) → int.

    Raises :class:`ValueIssue` with rule ``count_not_integer``, ``count_negative`` or
    ``count_too_large`` and a Chinese hint saying what is expected.
    """
    if value is None:
        return 0
    if isinstance(value, (bool, date, datetime)):
        raise ValueIssue("count_not_integer", "请填写阿拉伯数字整数，例如 1234")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueIssue("count_not_integer", "请填写阿拉伯数字整数，例如 1234")
        if not value.is_integer():
            raise ValueIssue("count_not_integer", "数量应为整数，不能有小数")
        number = int(value)
    elif isinstance(value, str):
        number = _count_from_text(value)
    else:
        raise ValueIssue("count_not_integer", "请填写一个阿拉伯数字整数，例如 1234")
    if number < 0:
        raise ValueIssue("count_negative", "数量不能为负数，请填写 0 或正整数")
    if number > MAX_COUNT:
        raise ValueIssue("count_too_large", "请核对是否多输入了数字；数量应不超过 999,999,999")
    return number


def _count_from_text(value: str) -> int:
    text = _fold(value)
    if not text:  # an empty cell is zero; "-", "无" or "/" are not guessed
        return 0
    plain = _PLAIN_NUMBER.match(text)
    if plain:
        digits = plain.group(1).replace(",", "")
        if len(digits) > 12:
            raise ValueIssue("count_too_large", "请核对是否多输入了数字；数量应不超过 999,999,999")
        return int(digits)
    if _NEGATIVE_NUMBER.match(text):
        raise ValueIssue("count_negative", "数量不能为负数，请填写 0 或正整数")
    if _DECIMAL.match(text):
        raise ValueIssue("count_not_integer", "数量应为整数，不能有小数")
    if re.fullmatch(r"\d[\d,]*", text):
        raise ValueIssue("count_not_integer", "千分位逗号的位置不对；请直接填写数字，如 12345")
    if _APPROXIMATE.search(text):
        raise ValueIssue("count_not_integer", "请填写确切的整数，不要加“约”“余”“左右”等字样或写成范围")
    unit = _WITH_UNIT.match(text)
    if unit:
        raise ValueIssue("count_not_integer", f"请只填写数字，不要带单位“{unit.group(1)}”")
    raise ValueIssue("count_not_integer", "请填写阿拉伯数字整数，例如 1234；没有开展的填 0")


_DATE_PATTERNS = (
    re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)
_EXCEL_EPOCH = date(1899, 12, 30)
_DATE_HINT = "请按 2022-11-11 的格式填写该周周五的日期（也可写 2022/11/11、2022年11月11日、20221111）"


def normalise_date(value: object, *, excel_serial: bool = False) -> date:
    """A date as typed: 2022-11-11, 2022/11/11, 2022年11月11日, 20221111, a date cell → date.

    ``excel_serial`` also accepts a spreadsheet day number (44876 = 2022-11-11), as a workbook
    cell holds a date whose format was lost. Raises :class:`ValueIssue` (``date_invalid``).
    """
    value = _date_or_text(value, excel_serial=excel_serial)
    if isinstance(value, date):
        return value
    text = _fold(value)
    text = re.sub(r"\s*([年月日/.-])\s*", r"\1", text)
    for pattern in _DATE_PATTERNS:
        match = pattern.match(text)
        if match:
            try:
                return date(*(int(part) for part in match.groups()))
            except ValueError:
                raise ValueIssue("date_invalid", "该日期不存在；" + _DATE_HINT) from None
    raise ValueIssue("date_invalid", _DATE_HINT)


def _date_or_text(value: object, *, excel_serial: bool) -> date | str:
    """A date cell or day number as a date, anything typed as its text; other values are no date."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date | str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueIssue("date_invalid", _DATE_HINT)
    if isinstance(value, float) and not value.is_integer():
        raise ValueIssue("date_invalid", _DATE_HINT)
    number = int(value)
    if excel_serial and 30_000 <= number <= 80_000:
        return _EXCEL_EPOCH + timedelta(days=number)
    return str(number)


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return unicodedata.normalize("NFC", str(value)).translate(_INVISIBLE).strip()


def _show(value: object) -> str:
    """A value as it appears in a message."""
    if value is None:
        return "（空）"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, float):
        return repr(value)
    text = str(value)
    return text if len(text) <= 40 else text[:40] + "…"


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not _fold(value))


_WEEKDAY_CN = "一二三四五六日"


# ---------------------------------------------------------------------------------------------------
# Where a value was found


@dataclass(frozen=True)
class _Place:
    """Where a value sits: the Chinese phrase for messages, and the row and cell for the Problem."""

    text: str
    row: int | None = None
    cell: str | None = None

    def where(self) -> dict:
        return {"row": self.row, "cell": self.cell}


@dataclass(frozen=True)
class _Raw:
    value: object
    place: _Place


def column_letter(index: int) -> str:
    """1 → A, 27 → AA."""
    letters = ""
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _subject(key: str) -> str:
    spec = F.spec_of(key)
    if spec.kind != "count":
        return f"“{spec.header}”"
    return f"“{spec.header}”" + ("累计数" if F.is_cumulative(key) else "本周数")


class _Source:
    """The kind of file being read, for places and messages."""

    def __init__(self, fmt: Format) -> None:
        self.format = fmt

    def grid_place(self, row: int, col: int) -> _Place:
        """``row`` and ``col`` are 1-based."""
        cell = f"{column_letter(col)}{row}"
        if self.format == "xlsx":
            return _Place(f"（单元格 {cell}）", row, cell)
        return _Place(f"（第 {row} 行第 {col} 列，用 Excel 打开时为 {cell}）", row, cell)

    @staticmethod
    def key_place(key: str) -> _Place:
        return _Place(f"（键“{key}”）")

    def missing_message(self, key: str, *, form: bool) -> str:
        spec = F.spec_of(key)
        if form:
            if spec.kind == "count":
                column = "累计" if F.is_cumulative(key) else "本周"
                return (
                    f"“周报”表中找不到“{spec.header}”这一行的{column}数。请使用教育部下发的模板，"
                    "不要删除或改动“指标”列的名称和“本周”“累计”列。"
                )
            return f"“周报”表中找不到“{spec.header}”栏目。请使用教育部下发的模板，不要删除或改动栏目名称。"
        name = F.display_name(key)
        if self.format == "json":
            return f"缺少键“{key}”（或中文键“{name}”）。请按模板补上该项，没有开展的活动填 0。"
        return f"缺少“{name}”列（也可用英文列名 {key}）。请按模板补上该列，没有开展的活动填 0。"


# ---------------------------------------------------------------------------------------------------
# Entry point


def parse_report(
    content: bytes,
    filename: str,
    *,
    max_bytes: int,
    campaign: config.Campaign | None = None,
    units: config.Units | None = None,
) -> ParseResult:
    """Parse one received file. Never raises for a bad file; see the module docstring."""
    ctx = _Context(campaign or config.campaign(), units or config.units())
    try:
        result = _parse(content, filename, max_bytes, ctx)
        result.problems = _capped([_clean(p) for p in result.problems])
        return result
    except Exception as exc:  # a file must not stop the other units' reports; the failure is reported
        log.exception("unexpected error while parsing %s", filename)
        message = (
            "读取文件时发生意外错误，文件未被接收。请使用教育部下发的模板重新填写后报送；"
            "如仍有问题，请联系教育部高校学生司。"
        )
        return ParseResult(None, [problem("parse_failed", message, value=type(exc).__name__)])


def _clean(found: Problem) -> Problem:
    """A problem without control characters: its message, value and field quote what the file holds
    (a column name, a JSON key), and PostgreSQL refuses NUL in text."""
    parts = {"message": found.message, "value": found.value, "field": found.field}
    if not any(text is not None and has_control(text) for text in parts.values()):
        return found
    cleaned = {k: strip_control(v) if v is not None else None for k, v in parts.items()}
    return replace(found, **cleaned)


def _capped(problems: list[Problem]) -> list[Problem]:
    """At most :data:`MAX_PROBLEMS_PER_RULE` problems of each rule, in their order; in place of the
    rest, one problem of the same rule and severity that says how many more there are."""
    totals = Counter(p.rule for p in problems)
    if max(totals.values(), default=0) <= MAX_PROBLEMS_PER_RULE:
        return problems
    kept: list[Problem] = []
    seen: Counter[str] = Counter()
    for found in problems:
        seen[found.rule] += 1
        if seen[found.rule] <= MAX_PROBLEMS_PER_RULE:
            kept.append(found)
        if seen[found.rule] == MAX_PROBLEMS_PER_RULE and totals[found.rule] > MAX_PROBLEMS_PER_RULE:
            more = totals[found.rule] - MAX_PROBLEMS_PER_RULE
            message = (
                f"另有 {more:,} 处同类问题（{RULES[found.rule][1]}）未逐一列出，"
                f"以上仅列出前 {MAX_PROBLEMS_PER_RULE} 处。请按上述说明一并检查、修改。"
            )
            kept.append(Problem(rule=found.rule, severity=found.severity, message=message, value=str(more)))
    return kept


@dataclass(frozen=True)
class _Context:
    campaign: config.Campaign
    units: config.Units


_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole"),
    (b"\x89PNG\r\n\x1a\n", "PNG 图片"),
    (b"\xff\xd8\xff", "JPEG 图片"),
    (b"GIF87a", "GIF 图片"),
    (b"GIF89a", "GIF 图片"),
    (b"II*\x00", "TIFF 图片"),
    (b"MM\x00*", "TIFF 图片"),
    (b"%PDF", "PDF 文档"),
    (b"{\\rtf", "RTF 文档"),
    (b"Rar!", "RAR 压缩包"),
    (b"7z\xbc\xaf\x27\x1c", "7z 压缩包"),
    (b"\x1f\x8b", "gzip 压缩包"),
)
_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def _sniff(content: bytes) -> str:
    """``zip``, ``ole``, ``text`` or a Chinese description of another binary kind."""
    for magic, kind in _MAGIC:
        if content.startswith(magic):
            return kind
    if content[8:12] == b"WEBP" and content.startswith(b"RIFF"):
        return "WebP 图片"
    if content.startswith(_BOMS[1:]):
        return "text"
    # Text holds no NUL but by accident (a stray one in a pasted field is stripped later, with a
    # warning); binary data and UTF-16 without its BOM are full of them.
    sample = content[:4096]
    if sample.count(b"\x00") * 100 > len(sample):
        return "二进制数据"
    return "text"


def _ole_kind(content: bytes) -> str:
    """What an OLE compound file holds: ``encrypted`` (a password-protected Office file), ``xls``, ``doc``."""
    if "EncryptedPackage".encode("utf-16-le") in content or "EncryptionInfo".encode("utf-16-le") in content:
        return "encrypted"
    if "WordDocument".encode("utf-16-le") in content:
        return "doc"
    return "xls"


def _spaced(kind: str) -> str:
    """A space before a description starting with a Latin word: ``内容是 PNG 图片``, ``内容是文本``."""
    return f" {kind}" if kind[:1].isascii() else kind


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"


def _parse(content: bytes, filename: str, max_bytes: int, ctx: _Context) -> ParseResult:
    name = PurePath(filename.replace("\\", "/")).name
    ext = PurePath(name).suffix.lower()
    kind = _sniff(content)
    refusal = _refuse_file(content, name, max_bytes) or _refuse_extension(ext, kind)
    if refusal is not None:
        return refusal
    if kind == "zip":
        return _parse_workbook(content, ctx)
    if kind == "ole":
        return _refuse_ole(content)
    if ext in (".xlsx", ".xls"):
        found = "文本" if kind == "text" else kind
        return _fail(
            "not_a_workbook",
            f"文件扩展名是 {ext}，但内容是{_spaced(found)}，不是 Excel 工作簿。请上传填好的 .xlsx 模板文件本身"
            "（不要上传截图或把其他文件改扩展名）。",
            value=found,
        )
    if kind != "text":
        return _fail(
            "encoding",
            f"文件扩展名是 {ext}，但内容是{_spaced(kind)}，不是文本。请上传填好的报告文件本身。",
            value=kind,
        )
    return _parse_text(content, ext, ctx)


def _refuse_file(content: bytes, name: str, max_bytes: int) -> ParseResult | None:
    """The refusal of a file too large or empty, whatever its kind."""
    if len(content) > max_bytes:
        message = (
            f"文件大小为 {_megabytes(len(content))}，超过了 {_megabytes(max_bytes)} 的上限。"
            "周报通常只有几十 KB，请确认上传的是填好的周报文件，不要插入图片。"
        )
        return _fail("file_too_large", message, value=str(len(content)))
    if not content.strip(b" \t\r\n\x00").removeprefix(codecs.BOM_UTF8).strip():
        return _fail("file_empty", f"文件“{name}”是空的（没有任何内容）。请检查后重新上传填好的周报。")
    return None


def _refuse_extension(ext: str, kind: str) -> ParseResult | None:
    """The refusal of a macro workbook or an extension the pipeline does not read."""
    if ext == ".xlsm":
        return _fail(
            "macro_workbook",
            "启用宏的工作簿（.xlsm）出于安全考虑不予接收。请在 Excel 中选择“另存为”→“Excel 工作簿(*.xlsx)”"
            "后重新报送。",
            value=ext,
        )
    if ext in (*SUPPORTED_EXTENSIONS, ".xls"):
        return None
    shown = f"“{ext}”" if ext else "（无扩展名）"
    hint = ""
    if kind == "text":
        hint = "如果这是 CSV 文本，请把文件扩展名改为 .csv。"
    elif kind not in ("zip", "ole"):
        hint = f"文件内容是{_spaced(kind)}。"
    message = f"不支持{shown}格式的文件。{hint}请使用教育部下发的 .xlsx 模板填报，或报送 .csv、.json 文件。"
    return _fail("unsupported_format", message, value=ext or None)


def _refuse_ole(content: bytes) -> ParseResult:
    """An OLE compound file is never read: encrypted Office file, Word document or legacy .xls."""
    ole = _ole_kind(content)
    if ole == "encrypted":
        return _fail(
            "workbook_encrypted",
            "工作簿设置了打开密码（已加密），系统无法读取。请在 Excel 中取消密码"
            "（“文件”→“信息”→“保护工作簿”→“用密码进行加密”，清空密码）后重新报送。",
        )
    if ole == "doc":
        return _fail("not_a_workbook", "文件内容是 Word 文档，不是 Excel 工作簿。请使用 .xlsx 模板填报。")
    return _fail(
        "xls_legacy",
        "这是旧版 Excel 97-2003 工作簿（.xls），系统只接收 .xlsx。请在 Excel 中“另存为”"
        "“Excel 工作簿(*.xlsx)”后重新报送。",
    )


def _parse_text(content: bytes, ext: str, ctx: _Context) -> ParseResult:
    decoded = _decode(content)
    if decoded is None:
        return _fail(
            "encoding",
            "文件无法按 UTF-8 或 GB18030 编码读取。请在 Excel 中“另存为”“CSV UTF-8（逗号分隔）”后重新报送。",
        )
    text, encoding = decoded
    if ext == ".json" or text.lstrip().startswith("{"):
        result = _parse_json(text, ctx)
    else:
        result = _parse_csv(text, ctx)
    result.encoding = encoding
    return result


def _fail(rule: str, message: str, **where: Any) -> ParseResult:
    return ParseResult(None, [problem(rule, message, **where)])


def _decode(content: bytes) -> tuple[str, str] | None:
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return content.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            return None
    try:
        encoding = "utf-8-sig" if content.startswith(codecs.BOM_UTF8) else "utf-8"
        return content.decode("utf-8-sig"), encoding
    except UnicodeDecodeError:
        pass
    try:
        return content.decode("gb18030"), "gb18030"
    except UnicodeDecodeError:
        return None


# ---------------------------------------------------------------------------------------------------
# Workbooks


def _parse_workbook(content: bytes, ctx: _Context) -> ParseResult:
    grid, failure = _read_form_sheet(content)
    if failure is not None:
        return failure
    source = _Source("xlsx")
    raw, problems, is_form = _read_grid(grid, source)
    return _finish(raw, problems, source, ctx, is_form=is_form)


def _read_form_sheet(content: bytes) -> tuple[list[list], ParseResult | None]:
    failure = _check_package(content)
    if failure is not None:
        return [], failure
    import openpyxl

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds of errors on a damaged file; each is a corrupt file
        log.info("openpyxl could not open a workbook", exc_info=True)
        return [], _fail("workbook_corrupt", _CORRUPT)
    try:
        return _read_sheet_grid(workbook, content)
    except Exception:  # a damaged sheet part surfaces only while rows are read
        log.info("openpyxl could not read the form sheet", exc_info=True)
        return [], _fail("workbook_corrupt", _CORRUPT)
    finally:
        workbook.close()


def _check_package(content: bytes) -> ParseResult | None:
    """The refusal of a zip that is no spreadsheet to open: a zip bomb, encrypted, macros, another document."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        return _fail("workbook_corrupt", _CORRUPT)
    with archive:
        failure = _check_archive(infos, len(content))
        if failure is not None:
            return failure
        try:
            types = archive.read("[Content_Types].xml")
        except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError):
            return _fail("workbook_corrupt", _CORRUPT)
    return _check_content_types(types, {info.filename for info in infos})


def _check_archive(infos: list[zipfile.ZipInfo], size: int) -> ParseResult | None:
    total = sum(info.file_size for info in infos)
    ratio = total / max(size, 1)
    if (
        len(infos) > MAX_ZIP_ENTRIES
        or total > MAX_UNCOMPRESSED_BYTES
        or (total > RATIO_CHECK_FLOOR and ratio > MAX_COMPRESSION_RATIO)
    ):
        message = (
            f"工作簿解压后有 {_megabytes(total)}（压缩比约 {ratio:.0f}:1，共 {len(infos)} 个部件），"
            "远超正常周报的大小，出于安全考虑未打开。请使用教育部下发的模板重新填写后报送。"
        )
        return _fail("zip_bomb", message, value=str(total))
    if any(info.flag_bits & 0x1 for info in infos):
        return _fail("workbook_encrypted", "工作簿的压缩包设置了密码，系统无法读取。请取消密码后重新报送。")
    if "[Content_Types].xml" not in {info.filename for info in infos}:
        return _fail(
            "not_a_workbook",
            "文件是一个 zip 压缩包，不是 Excel 工作簿。请直接上传填好的 .xlsx 模板文件，不要压缩。",
            value="zip",
        )
    return None


def _check_content_types(types: bytes, names: set[str]) -> ParseResult | None:
    if b"macroEnabled" in types or any(n.lower().endswith("vbaproject.bin") for n in names):
        return _fail(
            "macro_workbook",
            "工作簿含有宏（启用宏的工作簿），出于安全考虑不予接收。请在 Excel 中“另存为”"
            "“Excel 工作簿(*.xlsx)”后重新报送。",
        )
    if b"spreadsheetml" in types:
        return None
    kind = "其他 Office 文件"
    if b"wordprocessingml" in types:
        kind = "Word 文档"
    elif b"presentationml" in types:
        kind = "PowerPoint 演示文稿"
    return _fail(
        "not_a_workbook",
        f"文件内容是{_spaced(kind)}，不是 Excel 工作簿。请使用 .xlsx 模板填报。",
        value=kind,
    )


def _read_sheet_grid(workbook: Any, content: bytes) -> tuple[list[list], ParseResult | None]:
    """The form sheet's cells, from an open workbook; its formulas without a saved result marked."""
    titles = list(workbook.sheetnames)
    matches = [t for t in titles if t.strip() == FORM_SHEET]
    if not matches:
        found = "、".join(f"“{t}”" for t in titles) or "（无）"
        message = (
            f"工作簿中没有名为“{FORM_SHEET}”的工作表（找到的工作表：{found}）。请在教育部下发的模板中"
            f"“{FORM_SHEET}”表上填写，不要改动工作表名称。"
        )
        return [], _fail("sheet_missing", message, value="、".join(titles))
    sheet = workbook[matches[0]]
    rows = sheet.iter_rows(min_row=1, max_row=MAX_FORM_ROWS, max_col=MAX_FORM_COLS, values_only=True)
    grid = [list(row) for row in rows]
    if _has_formulas(content):
        _mark_uncomputed(content, matches[0], grid)
    return grid, None


@dataclass(frozen=True)
class _Uncomputed:
    """A formula cell whose result was not saved in the file: its value is unknown, not empty."""

    formula: str

    def __str__(self) -> str:
        return self.formula


def _has_formulas(content: bytes) -> bool:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return any(
            info.filename.startswith("xl/worksheets/")
            and re.search(rb"<(?:\w+:)?f[\s>/]", archive.read(info))
            for info in archive.infolist()
        )


def _mark_uncomputed(content: bytes, title: str, grid: list[list]) -> None:
    """Put an :class:`_Uncomputed` in ``grid`` where the sheet has a formula and no saved result.

    The values were read with ``data_only``: a formula's saved result, or None when there is none
    (workbooks written by scripts, openpyxl itself, some online editors). Read as None, such a
    cell would count as an empty cell, i.e. zero."""
    import openpyxl

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=False)
    try:
        rows = workbook[title].iter_rows(min_row=1, max_row=MAX_FORM_ROWS, max_col=MAX_FORM_COLS)
        for r, row in enumerate(rows):
            for c, cell in enumerate(row):
                if cell.data_type == "f" and r < len(grid) and c < len(grid[r]) and grid[r][c] is None:
                    formula = cell.value if isinstance(cell.value, str) else getattr(cell.value, "text", "")
                    grid[r][c] = _Uncomputed(str(formula or "="))
    finally:
        workbook.close()


_CORRUPT = "工作簿已损坏或不完整，无法打开。请在 Excel 中打开确认无误后重新保存为 .xlsx 并报送。"


# ---------------------------------------------------------------------------------------------------
# Grids: the form sheet, or a CSV (flat, or the form saved as CSV)

_FORM_TABLE_HEADER = "指标"
_WEEK_HEADERS = {"本周", "本周数", "本周新增"}
_CUMULATIVE_HEADERS = {"累计", "累计数", "累计总数"}


_Found = dict[str, list[_Raw]]


def _read_grid(grid: list[list], source: _Source) -> tuple[_Found, list[Problem], bool]:
    """The raw values of a sheet or CSV, the problems of its layout, and whether it is laid out as the form."""
    header_row = _flat_header_row(grid)
    if header_row is not None:
        return (*_read_flat(grid, header_row, source), False)
    markers = {*F.form_label_index(), _FORM_TABLE_HEADER}
    for row in grid:
        for value in row:
            if isinstance(value, str) and F.normalise_form_label(value) in markers:
                return _read_form(grid, source), [], True
    if source.format == "xlsx":
        message = (
            f"“{FORM_SHEET}”表中找不到模板的栏目（如“填报单位代码”“指标”）。请使用教育部下发的模板填报，"
            "不要改动栏目名称。"
        )
        return {}, [problem("header_invalid", message)], False
    first = next((row for row in grid if any(not _blank(v) for v in row)), [])
    shown = "、".join(f"“{_show(v)}”" for v in first[:4] if not _blank(v)) or "（空）"
    message = (
        f"第一行应是列名（如“填报单位代码”或 unit_code），找到的却是 {shown}。"
        "请使用模板中的列名，第一行写列名、第二行写数据。"
    )
    return {}, [problem("header_invalid", message, row=1)], False


def _flat_header_row(grid: list[list]) -> int | None:
    """The 0-based row holding flat column names, if any: at least three of them (a row of the form
    holds one label)."""
    index = F.flat_column_index()
    for r, row in enumerate(grid[:10]):
        if sum(1 for v in row if isinstance(v, str) and F.normalise_label(v) in index) >= 3:
            return r
    return None


def _read_flat(grid: list[list], header_row: int, source: _Source) -> tuple[_Found, list[Problem]]:
    index = F.flat_column_index()
    problems: list[Problem] = []
    columns: list[tuple[int, str]] = []
    for c, name in enumerate(grid[header_row]):
        if _blank(name):
            continue
        key = index.get(F.normalise_label(name))
        if key is None:
            place = source.grid_place(header_row + 1, c + 1)
            message = (
                f"列名“{_show(name)}”{place.text}无法识别，该列已忽略。如果这是一个指标，请改用模板中的列名。"
            )
            problems.append(problem("field_unknown", message, value=_show(name), **place.where()))
            continue
        columns.append((c, key))
    data_rows = [r for r in range(header_row + 1, len(grid)) if any(not _blank(v) for v in grid[r])]
    if not data_rows:
        message = "文件中只有列名，没有数据行。请在列名下一行填写本单位本周的数据。"
        return {}, [*problems, problem("no_data", message)]
    if len(data_rows) > 1:
        shown = "、".join(str(r + 1) for r in data_rows[:6]) + ("…" if len(data_rows) > 6 else "")
        message = (
            f"文件中有 {len(data_rows)} 行数据（第 {shown} 行）。每个文件只能包含一个单位一周的一份报告，"
            "请每周单独报送一个文件；如要更正，上传更正后的新文件即可。"
        )
        return {}, [*problems, problem("multiple_reports", message, value=str(len(data_rows)))]
    r = data_rows[0]
    row = grid[r]
    raw: _Found = {}
    for c, key in columns:
        value = row[c] if c < len(row) else None
        raw.setdefault(key, []).append(_Raw(value, source.grid_place(r + 1, c + 1)))
    return raw, problems


def _read_form(grid: list[list], source: _Source) -> _Found:
    labels = F.form_label_index()
    week_col = cumulative_col = None
    hits: list[tuple[int, int, F.FieldSpec]] = []
    for r, row in enumerate(grid):
        for c, value in enumerate(row):
            if not isinstance(value, str):
                continue
            label = F.normalise_form_label(value)
            if label == _FORM_TABLE_HEADER and week_col is None:
                week_col, cumulative_col = _form_count_columns(row, cumulative_col)
            elif label in labels:
                hits.append((r, c, labels[label]))

    def at(r: int, c: int) -> _Raw:
        row = grid[r]
        return _Raw(row[c] if c < len(row) else None, source.grid_place(r + 1, c + 1))

    raw: _Found = {}
    for r, c, spec in hits:
        if spec.kind == "count":
            week = week_col if week_col is not None and week_col > c else c + 1
            cumulative = cumulative_col if cumulative_col is not None and cumulative_col > c else c + 2
            raw.setdefault(spec.key, []).append(at(r, week))
            raw.setdefault(F.cumulative_key(spec.key), []).append(at(r, cumulative))
        else:
            raw.setdefault(spec.key, []).append(at(r, c + 1))
    return raw


def _form_count_columns(row: list, cumulative_col: int | None) -> tuple[int | None, int | None]:
    """The columns of the week's and the cumulative counts, from the form table's header row."""
    week_col = None
    for c, other in enumerate(row):
        other_label = F.normalise_label(other)
        if other_label in _WEEK_HEADERS:
            week_col = c
        elif other_label in _CUMULATIVE_HEADERS:
            cumulative_col = c
    return week_col, cumulative_col


def _parse_csv(text: str, ctx: _Context) -> ParseResult:
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = max((",", "\t", ";"), key=first_line.count)
    try:
        grid = [list(row) for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]
    except csv.Error as exc:
        return _fail("csv_invalid", f"CSV 文件格式有误（{exc}）。请在 Excel 中重新“另存为”CSV 后报送。")
    source = _Source("csv")
    raw, problems, is_form = _read_grid(grid, source)
    result = _finish(raw, problems, source, ctx, is_form=is_form)
    result.format = "csv"
    return result


# ---------------------------------------------------------------------------------------------------
# JSON


def _parse_json(text: str, ctx: _Context) -> ParseResult:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        message = (
            f"JSON 格式有误：第 {exc.lineno} 行第 {exc.colno} 列附近（{exc.msg}）。"
            "请检查引号、逗号和括号是否成对，或改用 .xlsx 模板报送。"
        )
        return _json_fail(message, row=exc.lineno)
    except RecursionError:
        return _json_fail("JSON 嵌套层数过多，不是一份报告。请按模板报送一个对象。")
    if isinstance(data, list):
        if not data:
            return _json_fail_rule(
                "no_data", "JSON 是一个空列表，没有报告数据。请报送一个包含本周数据的对象。"
            )
        if len(data) > 1:
            message = f"JSON 列表中有 {len(data)} 份报告。每个文件只能包含一个单位一周的一份报告，请每周单独报送一个文件。"
            return _json_fail_rule("multiple_reports", message, value=str(len(data)))
        data = data[0]
    if not isinstance(data, dict):
        return _json_fail("JSON 应是一个对象（{…}），或只含一个对象的列表。请按模板的键名报送。")
    index = F.flat_column_index()
    source = _Source("json")
    raw: _Found = {}
    problems: list[Problem] = []
    for name, value in data.items():
        key = index.get(F.normalise_label(name))
        if key is None:
            message = f"键“{name}”无法识别，已忽略。如果这是一个指标，请改用模板中的键名。"
            problems.append(problem("field_unknown", message, field=str(name)))
            continue
        raw.setdefault(key, []).append(_Raw(value, source.key_place(name)))
    result = _finish(raw, problems, source, ctx, is_form=False)
    result.format = "json"
    return result


def _json_fail(message: str, **where: Any) -> ParseResult:
    return _json_fail_rule("json_invalid", message, **where)


def _json_fail_rule(rule: str, message: str, **where: Any) -> ParseResult:
    result = _fail(rule, message, **where)
    result.format = "json"
    return result


# ---------------------------------------------------------------------------------------------------
# From raw values to the canonical record


@dataclass
class _Assembly:
    """The record being built from a file's values, with what the file declares and the problems found."""

    source: _Source
    ctx: _Context
    is_form: bool
    problems: list[Problem]
    record: dict[str, Any] = field(default_factory=dict)
    declared: dict[str, Any] = field(default_factory=dict)


def _finish(
    raw: _Found, problems: list[Problem], source: _Source, ctx: _Context, *, is_form: bool
) -> ParseResult:
    result = ParseResult(None, problems, format=source.format)
    if rejects(problems):
        return result
    values = _first_values(raw, problems)
    _strip_control_characters(values, problems)
    assembly = _Assembly(source, ctx, is_form, problems)
    for key in F.RECORD_KEYS:
        _assemble_field(assembly, key, values.get(key))
    record = assembly.record
    problems.extend(check_record(record, places={k: v.place for k, v in values.items()}))
    result.declared = assembly.declared
    if not rejects(problems):
        result.record = {key: record[key] for key in F.RECORD_KEYS}
    return result


def _first_values(raw: _Found, problems: list[Problem]) -> dict[str, _Raw]:
    """Each field's first value; a field found again with another value is a problem."""
    values: dict[str, _Raw] = {}
    for key, found in raw.items():
        values[key] = found[0]
        if len({_comparable(key, item.value) for item in found}) > 1:
            places = "、".join(item.place.text.strip("（）") for item in found)
            message = f"{_subject(key)}出现了 {len(found)} 次且内容不一致（{places}）。请只保留一处。"
            problems.append(
                problem(
                    "field_duplicate",
                    message,
                    field=key,
                    value=_show(found[1].value),
                    **found[1].place.where(),
                )
            )
    return values


def _strip_control_characters(values: dict[str, _Raw], problems: list[Problem]) -> None:
    for key, item in list(values.items()):
        if isinstance(item.value, str) and has_control(item.value):
            values[key] = _Raw(strip_control(item.value), item.place)
            message = (
                f"{_subject(key)}{item.place.text}中有不可见的控制字符（如 NUL、退格、转义符，多由复制粘贴或"
                "导出程序带入），系统已将其删除后接收。请核对该项内容是否完整；如有缺漏，请修改后重新报送。"
            )
            problems.append(problem("control_characters", message, field=key, **item.place.where()))


def _assemble_field(assembly: _Assembly, key: str, item: _Raw | None) -> None:
    """One field of the record from its value, or the problem that keeps it out."""
    spec = F.spec_of(key)
    problems = assembly.problems
    if isinstance(item, _Raw) and isinstance(item.value, _Uncomputed):
        message = (
            f"{_subject(key)}{item.place.text}是公式“{_show(item.value.formula)}”，但文件中没有保存它的计算结果"
            "（用程序脚本或部分在线表格生成的文件常会这样），系统无法得知其数值。请用 Excel 或 WPS 打开该文件，"
            "确认数值显示正确后保存，再重新报送；也可以直接填写数字而不用公式。"
        )
        problems.append(
            problem(
                "formula_uncomputed",
                message,
                field=key,
                value=_show(item.value.formula),
                **item.place.where(),
            )
        )
    elif item is None:
        if spec.kind == "text":
            assembly.record[key] = ""
        else:
            message = assembly.source.missing_message(key, form=assembly.is_form)
            problems.append(problem("field_missing", message, field=key))
    elif spec.kind == "count":
        _assemble_count(assembly, key, item)
    elif key in _DECLARED:
        value = _DECLARED[key](assembly, key, item)
        assembly.declared[key] = value
        if value:
            assembly.record[key] = value
    else:
        assembly.record[key] = _text(item.value)
        if spec.kind == "id" and not assembly.record[key]:
            message = f"{_subject(key)}{item.place.text}未填写。请填写后报送，以便教育部就本报告联系贵单位。"
            problems.append(problem("contact_missing", message, field=key, **item.place.where()))


def _assemble_count(assembly: _Assembly, key: str, item: _Raw) -> None:
    try:
        assembly.record[key] = normalise_count(item.value)
    except ValueIssue as issue:
        message = (
            f"{_subject(key)}{item.place.text}填写的是“{_show(item.value)}”，{_verdict(issue)}{issue.hint}。"
        )
        assembly.problems.append(
            problem(issue.rule, message, field=key, value=_show(item.value), **item.place.where())
        )


def _declared_unit(assembly: _Assembly, key: str, item: _Raw) -> str | None:
    return _unit(item, key, assembly.problems, assembly.ctx)


def _declared_week(assembly: _Assembly, key: str, item: _Raw) -> date | None:
    excel_serial = assembly.source.format == "xlsx"
    return _week(item, key, assembly.problems, assembly.ctx, excel_serial=excel_serial)


# The fields that say which unit and week a file reports, kept as declared even when refused.
_DECLARED: dict[str, Callable[[_Assembly, str, _Raw], Any]] = {
    "unit_code": _declared_unit,
    "week_ending": _declared_week,
}


def _comparable(key: str, value: object) -> object:
    """A value as compared between two places holding the same field (``1,234`` equals 1234)."""
    if F.spec_of(key).kind == "count":
        try:
            return normalise_count(value)
        except ValueIssue:
            return _text(value)
    return _text(value)


def _verdict(issue: ValueIssue) -> str:
    return {
        "count_negative": "是负数。",
        "count_too_large": "数值过大。",
    }.get(issue.rule, "不是整数。")


def _unit(item: _Raw, key: str, problems: list[Problem], ctx: _Context) -> str | None:
    value = item.value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = _fold(str(value)) if value is not None else ""
    if not text:
        message = f"{_subject(key)}{item.place.text}未填写。请填写 6 位单位代码（如 110000）或单位全称（如 北京市）。"
        problems.append(problem("field_missing", message, field=key, **item.place.where()))
        return None
    code = ctx.units.resolve(text)
    if code is None:
        found = re.findall(r"(?<!\d)\d{6}(?!\d)", text)
        if len(found) == 1:
            code = ctx.units.resolve(found[0])
    if code is None:
        message = (
            f"{_subject(key)}{item.place.text}填写的是“{_show(item.value)}”，无法识别。"
            "请填写 6 位单位代码（如 110000，新疆生产建设兵团为 660000）或单位全称（如 北京市）。"
        )
        problems.append(
            problem("unit_invalid", message, field=key, value=_show(item.value), **item.place.where())
        )
    return code


def _week(item: _Raw, key: str, problems: list[Problem], ctx: _Context, *, excel_serial: bool) -> date | None:
    if _blank(item.value):
        message = (
            f"{_subject(key)}{item.place.text}未填写。请填写本报告所统计的那一周的周五日期，如 2022-11-11。"
        )
        problems.append(problem("field_missing", message, field=key, **item.place.where()))
        return None
    try:
        day = normalise_date(item.value, excel_serial=excel_serial)
    except ValueIssue as issue:
        message = (
            f"{_subject(key)}{item.place.text}填写的是“{_show(item.value)}”，无法识别为日期。{issue.hint}。"
        )
        problems.append(
            problem("date_invalid", message, field=key, value=_show(item.value), **item.place.where())
        )
        return None
    weeks = ctx.campaign.weeks
    if day in weeks:
        return day
    valid = "、".join(w.isoformat() for w in weeks)
    hint = ""
    containing = [w for w in weeks if 0 <= (w - day).days < 7]
    if containing:
        hint = f"该日期所在的报送周应填写 {containing[0].isoformat()}（星期五）。"
    message = (
        f"{_subject(key)}{item.place.text}填写的是 {day.isoformat()}（星期{_WEEKDAY_CN[day.weekday()]}），"
        f"不是本次活动的报送日期。{hint}有效的统计截止日期（每周五）为：{valid}。"
    )
    problems.append(problem("week_invalid", message, field=key, value=day.isoformat(), **item.place.where()))
    return None


def check_record(record: dict, places: dict | None = None) -> list[Problem]:
    """The rules on one record that need no history: cumulative ≥ weekly, not all zero, employers ≤ positions.

    Counts missing from ``record`` (because they could not be read) are skipped. ``places`` maps a
    record key to where it was read, for the cell in the message.
    """
    places = places or {}
    found: list[Problem] = []
    for key in F.COUNT_KEYS:
        total_key = F.cumulative_key(key)
        week, total = record.get(key), record.get(total_key)
        if isinstance(week, int) and isinstance(total, int) and total < week:
            place = places.get(total_key) or _Place("")
            message = (
                f"{_subject(total_key)}{place.text}为 {total:,}，小于本周数 {week:,}。累计数是活动开始以来的总数"
                "（含本周），应不小于本周数。请核对后重新报送。"
            )
            found.append(
                problem("cumulative_lt_weekly", message, field=total_key, value=str(total), **place.where())
            )
    counts = [record.get(k) for k in F.RECORD_KEYS if F.spec_of(k).kind == "count"]
    if counts and all(isinstance(v, int) for v in counts) and not any(counts):
        message = "本周数和累计数全部为 0 或未填写。如确实未开展活动，可不修改；否则请填写数据后重新报送。"
        found.append(problem("counts_all_zero", message))
    for employers_key, positions_key, period in (
        ("employers", "positions", "本周"),
        ("employers_cumulative", "positions_cumulative", "累计"),
    ):
        employers, positions = record.get(employers_key), record.get(positions_key)
        if isinstance(employers, int) and isinstance(positions, int) and employers > positions:
            place = places.get(employers_key) or _Place("")
            message = (
                f"{period}“参会用人单位(家)”为 {employers:,}，多于“提供岗位(个)” {positions:,}。"
                "一般每家参会单位至少提供 1 个岗位，请核对；如确实如此，可不修改。"
            )
            found.append(
                problem(
                    "employers_gt_positions",
                    message,
                    field=employers_key,
                    value=str(employers),
                    **place.where(),
                )
            )
    return found

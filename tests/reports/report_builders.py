"""Builders of report files in every accepted format, from one record (imported by the tests)."""

from __future__ import annotations

import csv
import io
import json
import struct
import zipfile
from datetime import date

from recruitment_month import config
from recruitment_month.reports import fields as F
from recruitment_month.reports.parse import parse_report
from recruitment_month.reports.template import build_workbook, workbook_bytes

MAX_BYTES = 5 * 1024 * 1024


def sample_record() -> dict:
    """A canonical record of Guangdong's second week."""
    record: dict = {
        "unit_code": "440000",
        "week_ending": date(2022, 11, 18),
        "contact_name": "陈晓燕",
        "contact_phone": "020-37626000",
    }
    for i, key in enumerate(F.COUNT_KEYS):
        week = 1000 * (i + 1) + 7 * i
        record[key] = week
        record[F.cumulative_key(key)] = 2 * week + 3
    record["employers"], record["employers_cumulative"] = 2_345, 4_690
    record["positions"], record["positions_cumulative"] = 98_765, 201_234
    record["highlights"] = "联合行业协会举办能源动力、装备制造领域专场招聘会，组织书记校长访企拓岗。"
    record["problems"] = "部分线下招聘会受疫情影响延期，建议加强线上供需对接。"
    return {key: record[key] for key in F.RECORD_KEYS}


def _cell(value) -> str:
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else str(value)


def csv_bytes(
    values: dict,
    *,
    language: str = "zh",
    encoding: str = "utf-8",
    columns: list[str] | None = None,
    extra_rows: list[dict] | None = None,
) -> bytes:
    """A flat CSV: the header row and one data row (plus ``extra_rows``). ``columns`` overrides the
    header text; values are looked up by record key."""
    keys = [k for k in F.RECORD_KEYS if k in values]
    names = columns or [dict(zip(F.RECORD_KEYS, F.flat_columns(language), strict=True))[k] for k in keys]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(names)
    for row in [values, *(extra_rows or [])]:
        writer.writerow([_cell(row[k]) for k in keys])
    return buffer.getvalue().encode(encoding)


def json_bytes(values: dict, *, language: str = "en", wrap: bool = False) -> bytes:
    names = dict(zip(F.RECORD_KEYS, F.flat_columns(language), strict=True))
    obj = {names[k]: (v.isoformat() if isinstance(v, date) else v) for k, v in values.items()}
    return json.dumps([obj] if wrap else obj, ensure_ascii=False).encode("utf-8")


def xlsx_bytes(values: dict, *, campaign: config.Campaign | None = None, edit=None) -> bytes:
    """The ministry's form filled with ``values``; ``edit(workbook)`` may change it before saving."""
    workbook = build_workbook(campaign or config.campaign(), values=values)
    if edit is not None:
        edit(workbook)
    return workbook_bytes(workbook)


def parse(content: bytes, filename: str, **kwargs):
    return parse_report(content, filename, max_bytes=kwargs.pop("max_bytes", MAX_BYTES), **kwargs)


def ole_bytes(*streams: str) -> bytes:
    """The outline of an OLE compound file (what .xls and password-protected Office files are) whose
    directory names ``streams``."""
    header = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(16) + b"\x3e\x00\x03\x00\xfe\xff\x09\x00").ljust(
        512, b"\0"
    )
    entries = b""
    for name in ("Root Entry", *streams):
        encoded = name.encode("utf-16-le") + b"\0\0"
        entries += (encoded.ljust(64, b"\0") + struct.pack("<H", len(encoded))).ljust(128, b"\0")
    return header + entries.ljust(512, b"\0") + bytes(1024)


def zip_bytes(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def replace_member(data: bytes, name: str, content: bytes) -> bytes:
    """A copy of a zip with one member's content replaced."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            target.writestr(info, content if info.filename == name else source.read(info))
    return out.getvalue()

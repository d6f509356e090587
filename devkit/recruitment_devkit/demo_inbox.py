"""A deterministic, realistic inbox of provincial weekly reports for the demo and the tests.

``generate_inbox(inbox)`` fills ``inbox/<unit_code>/<file>`` with the 2022 campaign: 32 units × 8 weeks,
magnitudes scaled by province size (the campaign totals are about a third of what provinces reported
for the six months to May 2023: ~125,000 offline fairs, 1.45 million employers, 35 million positions),
weekly and cumulative figures consistent, in all three formats (the ``.xlsx`` form; CSV in UTF-8,
UTF-8 with BOM and GB18030 with Chinese or English headers; JSON with either keys), typed the way
people type (``1,234``, full-width digits, ``1234.0``, blank for zero, unit names, several date styles).

Most reports land on time, some late (after Friday 17:00 Asia/Shanghai), a few are missing, a few are
rejected and then corrected, a few are revised by a second accepted file. Each file's landing time is
set as its modification time, which the pipeline reads as the landing time. The returned
:class:`DemoManifest` says, per unit and week, the intended status and every file with its landing time,
what it should parse to, or which rule should reject it.

The plan depends only on the seed; ``weeks=`` and ``until=`` choose which files are written, so the
demo can feed the inbox week by week.

    python -m recruitment_devkit.demo_inbox INBOX_DIR [--seed 2022] [--weeks N | --until ISO] [--manifest M.json]

Pure module: no Airflow import.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import struct
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal

from recruitment_devkit import unit_sizes
from recruitment_month import config
from recruitment_month.reports import fields as F
from recruitment_month.reports.template import build_workbook, workbook_bytes

Status = Literal["on_time", "late", "missing", "rejected_then_corrected", "revised"]
STATUSES: tuple[Status, ...] = ("on_time", "late", "missing", "rejected_then_corrected", "revised")

# How many (unit, week) pairs of the 256 get each unusual status; the rest are on time.
STATUS_COUNTS = {"missing": 7, "rejected_then_corrected": 15, "revised": 10, "late": 22}

# National totals over the 8 campaign weeks.
NATIONAL_TOTALS = {
    "job_fairs_online": 18_000,
    "job_fairs_offline": 40_000,
    "campus_events": 65_000,
    "employers": 480_000,
    "positions": 11_500_000,
    "graduates": 16_000_000,
    "employers_registered": 150_000,
    "enterprise_visits": 70_000,
    "positions_from_visits": 900_000,
    "guidance_sessions": 28_000,
    "guidance_participants": 7_000_000,
    "hongzhi_trainees": 250_000,
    "key_group_fairs": 6_000,
    "matching_projects": 4_000,
}
# Share of the campaign's activity per week (8 weeks; a longer campaign repeats the tail).
WEEK_PROFILE = (0.13, 0.15, 0.15, 0.14, 0.13, 0.12, 0.10, 0.08)

# The kinds of bad file a unit sends before its corrected one, with the rule each must trigger.
BAD_FILES: tuple[tuple[str, str], ...] = (
    ("approximate", "count_not_integer"),
    ("negative", "count_negative"),
    ("with_unit", "count_not_integer"),
    ("cumulative_typo", "cumulative_lt_weekly"),
    ("thursday", "week_invalid"),
    ("date_without_year", "date_invalid"),
    ("unit_typo", "unit_invalid"),
    ("missing_field", "field_missing"),
    ("screenshot", "not_a_workbook"),
    ("sheet_renamed", "sheet_missing"),
    ("pdf", "unsupported_format"),
    ("two_weeks", "multiple_reports"),
    ("macro", "macro_workbook"),
    ("empty", "file_empty"),
    ("password", "workbook_encrypted"),
)

_SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹"
_GIVEN = (
    "伟",
    "芳",
    "敏",
    "静",
    "磊",
    "洋",
    "艳",
    "勇",
    "军",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀英",
    "志强",
    "海燕",
)
_HIGHLIGHTS = (
    "联合本省重点行业协会举办能源动力、装备制造领域线上线下专场招聘会，组织用人单位进校招聘。",
    "组织高校书记校长带队走访重点企业，签订校企合作协议，开拓就业岗位。",
    "依托“24365校园招聘服务”平台开展线上招聘月活动，推动进校用人单位注册使用国家平台。",
    "面向脱贫家庭、残疾等重点群体毕业生举办专场招聘会，实施“一人一策”精准帮扶。",
    "开展“就业育人”主题教育活动，邀请优秀校友分享求职经历，引导毕业生尽早投身求职。",
    "实施宏志助航计划培训，提升重点群体毕业生求职能力；举办校企供需对接会。",
)
_PROBLEMS = (
    "受疫情影响，部分线下招聘活动延期或改为线上举办。",
    "部分中小企业岗位需求与毕业生求职意愿匹配度不高，建议加强供需对接。",
    "毕业生求职积极性有待提高，部分学生存在“慢就业”倾向。",
    "",
)
_FILE_STEMS = (
    "{name}_校园招聘月周报_{ymd}",
    "{code}_{iso}",
    "{short}第{n}周周报",
    "weekly_{code}_w{n}",
    "{name}{md}校园招聘月统计表",
)


@dataclass(frozen=True)
class DemoFile:
    unit_code: str
    week_ending: date
    name: str
    landed_at: datetime  # timezone-aware, Asia/Shanghai
    expect: Literal["accepted", "rejected"]
    rule: str | None  # the rule a rejected file must trigger
    format: str  # xlsx, csv, json, or what a non-report file is (png, pdf, xlsm, ole, empty)
    record: dict | None  # the canonical record an accepted file parses to
    spec: dict = field(repr=False, compare=False, hash=False)

    @property
    def path(self) -> str:
        """Relative to the inbox: ``<unit_code>/<name>``."""
        return f"{self.unit_code}/{self.name}"


@dataclass(frozen=True)
class DemoReport:
    unit_code: str
    week_ending: date
    status: Status
    deadline: datetime
    files: tuple[DemoFile, ...]

    @property
    def record(self) -> dict | None:
        """The record that counts: the latest accepted file's."""
        accepted = [f for f in self.files if f.expect == "accepted"]
        return accepted[-1].record if accepted else None

    @property
    def first_accepted_at(self) -> datetime | None:
        accepted = [f.landed_at for f in self.files if f.expect == "accepted"]
        return min(accepted) if accepted else None

    @property
    def on_time(self) -> bool | None:
        """Whether the first accepted file landed by the deadline; None when the report is missing."""
        first = self.first_accepted_at
        return None if first is None else first <= self.deadline


@dataclass
class DemoManifest:
    seed: int
    reports: list[DemoReport]
    written: list[str] = field(default_factory=list)  # paths written by the call that returned it

    def report(self, unit_code: str, week_ending: date) -> DemoReport:
        for report in self.reports:
            if report.unit_code == unit_code and report.week_ending == week_ending:
                return report
        raise KeyError((unit_code, week_ending))

    def files(self) -> list[DemoFile]:
        return sorted((f for r in self.reports for f in r.files), key=lambda f: (f.landed_at, f.path))

    def counts(self) -> dict[str, int]:
        counted = Counter(r.status for r in self.reports)
        return {status: counted.get(status, 0) for status in STATUSES}

    def to_dict(self) -> dict:
        return {
            "seed": self.seed,
            "counts": self.counts(),
            "reports": [
                {
                    "unit_code": r.unit_code,
                    "week_ending": r.week_ending.isoformat(),
                    "status": r.status,
                    "on_time": r.on_time,
                    "files": [
                        {
                            "path": f.path,
                            "landed_at": f.landed_at.isoformat(),
                            "expect": f.expect,
                            "rule": f.rule,
                            "format": f.format,
                        }
                        for f in r.files
                    ],
                }
                for r in self.reports
            ],
            "written": self.written,
        }


# ---------------------------------------------------------------------------------------------------
# The plan


def plan_campaign(
    seed: int = 2022, *, campaign: config.Campaign | None = None, units: config.Units | None = None
) -> DemoManifest:
    """The whole campaign's reports and files, without writing anything. Depends only on the seed."""
    campaign = campaign or config.campaign()
    units = units or config.units()
    rng = random.Random(seed)
    weeks = campaign.weeks
    codes = [u.code for u in units.units]
    truth = _true_figures(rng, codes, len(weeks))
    styles = {u.code: _unit_style(rng, u, i) for i, u in enumerate(units.units)}

    pairs = [(code, w) for code in codes for w in range(len(weeks))]
    order = pairs[:]
    rng.shuffle(order)
    status: dict[tuple[str, int], Status] = {}
    taken = 0
    for name, count in STATUS_COUNTS.items():
        for pair in order[taken : taken + count]:
            status[pair] = name
        taken += count
    bad_kinds = iter(BAD_FILES)

    reports = []
    edge_on_time = edge_late = False
    for code, w in pairs:
        week = weeks[w]
        deadline = campaign.deadline(week)
        state = status.get((code, w), "on_time")
        slot = _Slot(code, week, w, styles[code])
        record = _record(slot, truth, rng)
        files: list[DemoFile] = []
        if state == "on_time":  # the first one lands at the deadline itself, which is on time
            landed = deadline if not edge_on_time else _on_time(rng, deadline)
            edge_on_time = True
            files.append(_file(slot, landed, record))
        elif state == "late":  # the first one lands a second after the deadline
            landed = deadline + timedelta(seconds=1) if not edge_late else _late(rng, deadline)
            edge_late = True
            files.append(_file(slot, landed, record))
        elif state == "revised":  # the first file understates the positions; the revision fixes them
            first = dict(record)
            cut = max(1, record["positions"] // 10)
            first["positions"] -= cut
            first["positions_cumulative"] -= cut
            landed = _on_time(rng, deadline)
            revised_at = landed + _minutes(rng, 30, 900, 120)
            files.append(_file(slot, landed, first))
            files.append(_file(slot, revised_at, record, _Rendering(name_suffix="_修订版")))
        elif state == "rejected_then_corrected":
            bad = next(bad_kinds)
            landed = _on_time(rng, deadline)
            corrected_at = landed + _minutes(rng, 20, 600, 60)
            files.append(_bad_file(bad, slot, landed, record, truth))
            files.append(_file(slot, corrected_at, record, _Rendering(name_suffix="_更正")))
        reports.append(DemoReport(code, week, state, deadline, tuple(files)))
    return DemoManifest(seed, reports)


def _minutes(rng: random.Random, low: float, high: float, mode: float) -> timedelta:
    return timedelta(seconds=round(rng.triangular(low, high, mode) * 60))


def _office_hours(rng: random.Random, day: date, tz: Any) -> datetime:
    """A moment between 08:30 and 18:30 of a day, to the second."""
    return datetime.combine(day, time(8, 30), tz) + timedelta(seconds=rng.randrange(10 * 3600))


def _on_time(rng: random.Random, deadline: datetime) -> datetime:
    """The working day before the deadline (most), or office hours of the two days before."""
    days_before = rng.choices((0, 1, 2), (0.6, 0.3, 0.1))[0]
    if days_before == 0:
        return deadline - timedelta(seconds=1 + rng.randrange(int(8.5 * 3600)))
    return _office_hours(rng, deadline.date() - timedelta(days=days_before), deadline.tzinfo)


def _late(rng: random.Random, deadline: datetime) -> datetime:
    """The evening after the deadline (most), or office hours of the next day or three days later."""
    days_after = rng.choices((0, 1, 3), (0.5, 0.2, 0.3))[0]
    if days_after == 0:
        return deadline + timedelta(seconds=1 + rng.randrange(int(4.5 * 3600)))
    return _office_hours(rng, deadline.date() + timedelta(days=days_after), deadline.tzinfo)


def _true_figures(rng: random.Random, codes: list[str], n_weeks: int) -> dict[tuple[str, str, int], int]:
    """Weekly figures per (unit, key, week index)."""
    total_weight = sum(unit_sizes.size(c) for c in codes)
    profile = [WEEK_PROFILE[min(i, len(WEEK_PROFILE) - 1)] for i in range(n_weeks)]
    profile = [p / sum(profile) for p in profile]
    figures: dict[tuple[str, str, int], int] = {}
    for code in codes:
        share = unit_sizes.size(code) / total_weight
        emphasis = {key: rng.lognormvariate(0, 0.25) for key in F.COUNT_KEYS}
        for w in range(n_weeks):
            activity = rng.lognormvariate(0, 0.15)
            for key in F.COUNT_KEYS:
                expected = NATIONAL_TOTALS[key] * share * profile[w] * emphasis[key] * activity
                figures[code, key, w] = max(0, round(expected * rng.lognormvariate(0, 0.12)))
            employers, positions = figures[code, "employers", w], figures[code, "positions", w]
            figures[code, "employers", w] = min(employers, positions)
    return figures


def _unit_style(rng: random.Random, unit: config.Unit, index: int) -> dict:
    """How a unit reports: its format, encoding, how it types numbers, dates and its own name."""
    fmt = rng.choices(("xlsx", "csv", "json"), (0.55, 0.3, 0.15))[0]
    return {
        "format": fmt,
        "encoding": rng.choices(("utf-8-sig", "gb18030", "utf-8"), (0.45, 0.4, 0.15))[0],
        "language": rng.choices(("zh", "en"), (0.75, 0.25) if fmt == "csv" else (0.3, 0.7))[0],
        "wrap": rng.random() < 0.3,
        "numbers": rng.choices(
            ("plain", "thousands", "fullwidth", "decimal", "blank_zero"), (0.5, 0.2, 0.1, 0.1, 0.1)
        )[0],
        "dates": rng.choices(("iso", "slash", "chinese", "compact", "cell"), (0.5, 0.2, 0.15, 0.1, 0.05))[0],
        "unit_as": rng.choices(("code", "name", "short"), (0.75, 0.15, 0.1))[0],
        "contact_name": rng.choice(_SURNAMES) + rng.choice(_GIVEN),
        "contact_phone": f"0{rng.randint(10, 999)}-{rng.randint(6_000_000, 89_999_999)}",
        "stem": _FILE_STEMS[index % len(_FILE_STEMS)],
        "name": unit.name,
        "short": (unit.short_names or [unit.name])[0],
    }


@dataclass(frozen=True)
class _Slot:
    """One unit's report for one week (``w``: its 0-based index in the campaign), in the unit's style."""

    code: str
    week: date
    w: int
    style: dict


@dataclass(frozen=True)
class _Rendering:
    """How a planned file is written beyond the unit's style: its format (the unit's own by default), a
    suffix to its name, the values as typed (by default the record typed in style), what it must get."""

    fmt: str | None = None
    name_suffix: str = ""
    values: dict | None = None
    expect: Literal["accepted", "rejected"] = "accepted"
    rule: str | None = None
    extra: dict | None = None


def _record(slot: _Slot, truth: dict, rng: random.Random) -> dict[str, Any]:
    code, w, style = slot.code, slot.w, slot.style
    record: dict[str, Any] = {
        "unit_code": code,
        "week_ending": slot.week,
        "contact_name": style["contact_name"],
        "contact_phone": style["contact_phone"],
    }
    for key in F.COUNT_KEYS:
        record[key] = truth[code, key, w]
        record[F.cumulative_key(key)] = sum(truth[code, key, i] for i in range(w + 1))
    record["highlights"] = rng.choice(_HIGHLIGHTS)
    record["problems"] = rng.choice(_PROBLEMS)
    return {key: record[key] for key in F.RECORD_KEYS}


def _file_name(slot: _Slot, suffix: str, ext: str) -> str:
    week = slot.week
    stem = slot.style["stem"].format(
        name=slot.style["name"],
        short=slot.style["short"],
        code=slot.code,
        ymd=week.strftime("%Y%m%d"),
        iso=week.isoformat(),
        md=week.strftime("%m%d"),
        n=slot.w + 1,
    )
    return f"{stem}{suffix}.{ext}"


def _file(slot: _Slot, landed: datetime, record: dict, how: _Rendering | None = None) -> DemoFile:
    """A report file in the unit's style, written as ``how`` says."""
    how = how or _Rendering()
    fmt = how.fmt or slot.style["format"]
    values = how.values if how.values is not None else _typed(record, slot.style, fmt)
    ext = {"xlsx": "xlsx", "csv": "csv", "json": "json"}[fmt]
    spec = {"kind": fmt, "values": values, **_format_options(slot.style, fmt), **(how.extra or {})}
    return DemoFile(
        unit_code=slot.code,
        week_ending=slot.week,
        name=_file_name(slot, how.name_suffix, ext),
        landed_at=landed,
        expect=how.expect,
        rule=how.rule,
        format=fmt,
        record=dict(record) if how.expect == "accepted" else None,
        spec=spec,
    )


def _format_options(style: dict, fmt: str) -> dict:
    if fmt == "csv":
        return {"encoding": style["encoding"], "language": style["language"]}
    if fmt == "json":
        return {"language": style["language"], "wrap": style["wrap"]}
    return {"date_cell": style["dates"] == "cell"}


_FULLWIDTH = str.maketrans("0123456789,", "０１２３４５６７８９，")


def _typed(record: dict, style: dict, fmt: str) -> dict[str, Any]:
    """The record as the unit types it."""
    values: dict[str, Any] = dict(record)
    unit_as = style["unit_as"]
    if unit_as != "code":
        values["unit_code"] = style[unit_as]
    week: date = record["week_ending"]
    values["week_ending"] = {
        "iso": week.isoformat(),
        "slash": week.strftime("%Y/%m/%d"),
        "chinese": f"{week.year}年{week.month}月{week.day}日",
        "compact": week.strftime("%Y%m%d"),
        "cell": week.isoformat(),
    }[style["dates"]]
    if fmt == "xlsx":
        return values  # counts are numbers in Excel
    numbers = style["numbers"]
    for key in F.RECORD_KEYS:
        if F.spec_of(key).kind != "count":
            continue
        n = record[key]
        if fmt == "json" and numbers == "plain":
            continue
        values[key] = {
            "plain": str(n),
            "thousands": f"{n:,}",
            "fullwidth": f"{n:,}".translate(_FULLWIDTH),
            "decimal": f"{n}.0",
            "blank_zero": "" if n == 0 else str(n),
        }[numbers]
    return values


def _bad_file(bad: tuple[str, str], slot: _Slot, landed: datetime, record: dict, truth: dict) -> DemoFile:
    """The file a unit sends before its correction: ``bad`` is its kind and the rule it must trigger."""
    kind, rule = bad
    fmt = slot.style["format"]
    values = _typed(record, slot.style, fmt)
    how = _Rendering(values=values, expect="rejected", rule=rule)
    if kind == "missing_field":
        how = replace(how, extra={"drop": "matching_projects"})
    elif kind == "two_weeks":  # last week's row left in the sheet above this week's
        previous = dict(values)
        previous["week_ending"] = (slot.week - timedelta(days=7)).isoformat()
        for key in F.COUNT_KEYS:
            previous[key] = truth[slot.code, key, max(slot.w - 1, 0)]
        how = replace(how, fmt="csv", extra={"rows_before": [previous]})
    elif not _mistype(kind, values, record, slot):
        return _raw_file(bad, slot, landed, record)
    return _file(slot, landed, record, how)


def _mistype(kind: str, values: dict, record: dict, slot: _Slot) -> bool:
    """Put the mistake ``kind`` into the typed ``values``; False when ``kind`` is no typing mistake."""
    if kind == "approximate":
        values["positions"] = f"约{round(record['positions'], -2) or 300}"
    elif kind == "negative":
        values["guidance_sessions"] = -5 if slot.style["format"] != "csv" else "-5"
    elif kind == "with_unit":
        values["graduates"] = f"{record['graduates']}人次"
    elif kind == "cumulative_typo":  # a digit lost in the cumulative figure
        cut = int(str(record["positions_cumulative"])[:-1] or 0)
        values["positions_cumulative"] = cut if cut < record["positions"] else record["positions"] - 1
    elif kind == "thursday":
        values["week_ending"] = (slot.week - timedelta(days=1)).isoformat()
    elif kind == "date_without_year":
        values["week_ending"] = f"{slot.week.month}月{slot.week.day}日"
    elif kind == "unit_typo":
        values["unit_code"] = slot.code[:2] + slot.code[3:]  # 440000 → 44000
    else:
        return False
    return True


def _raw_file(bad: tuple[str, str], slot: _Slot, landed: datetime, record: dict) -> DemoFile:
    """A file that is not a readable report at all."""
    kind, rule = bad
    style = slot.style
    ext, fmt, spec = {
        "screenshot": ("xlsx", "png", {"kind": "png"}),
        "sheet_renamed": ("xlsx", "xlsx", {"kind": "xlsx", "rename_sheet": "Sheet1"}),
        "pdf": ("pdf", "pdf", {"kind": "pdf"}),
        "macro": ("xlsm", "xlsm", {"kind": "xlsm"}),
        "empty": (style["format"], "empty", {"kind": "empty"}),
        "password": ("xlsx", "ole", {"kind": "ole_encrypted"}),
    }[kind]
    if spec["kind"] in ("xlsx", "xlsm"):
        spec["values"] = _typed(record, style, "xlsx")
    return DemoFile(
        unit_code=slot.code,
        week_ending=slot.week,
        name=_file_name(slot, "", ext),
        landed_at=landed,
        expect="rejected",
        rule=rule,
        format=fmt,
        record=None,
        spec=spec,
    )


# ---------------------------------------------------------------------------------------------------
# Rendering and writing


def render(file: DemoFile, campaign: config.Campaign | None = None) -> bytes:
    """The bytes of a planned file."""
    campaign = campaign or config.campaign()
    spec = file.spec
    kind = spec["kind"]
    if kind in ("xlsx", "xlsm"):
        data = _xlsx(spec, campaign, file.landed_at)
        return _as_macro_workbook(data) if kind == "xlsm" else data
    if kind == "csv":
        return _csv(spec)
    if kind == "json":
        return _json(spec)
    if kind == "png":
        return _png()
    if kind == "pdf":
        return _pdf(file)
    if kind == "ole_encrypted":
        return _encrypted_ole(file)
    if kind == "empty":
        return b""
    raise ValueError(f"unknown demo file kind {kind!r}")


def _xlsx(spec: dict, campaign: config.Campaign, landed: datetime) -> bytes:
    values = dict(spec["values"])
    workbook = build_workbook(campaign, values=values)
    sheet = workbook.active
    if spec.get("date_cell"):
        for row in sheet.iter_rows(min_col=1, max_col=2):
            if row[0].value == F.BY_KEY["week_ending"].header:
                row[1].value = datetime.fromisoformat(values["week_ending"])
                row[1].number_format = "yyyy-mm-dd"
    if spec.get("drop"):
        header = F.BY_KEY[spec["drop"]].header
        for row in sheet.iter_rows(min_col=1, max_col=1):
            if row[0].value == header:
                sheet.delete_rows(row[0].row)
                break
    if spec.get("rename_sheet"):
        sheet.title = spec["rename_sheet"]
    return workbook_bytes(workbook, modified=landed.astimezone(UTC).replace(tzinfo=None))


def _as_macro_workbook(data: bytes) -> bytes:
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            content = source.read(info)
            if info.filename == "[Content_Types].xml":
                content = content.replace(
                    b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                    b"application/vnd.ms-excel.sheet.macroEnabled.main+xml",
                )
            target.writestr(info, content)
    return out.getvalue()


def _columns(language: str) -> list[tuple[str, str]]:
    return list(zip(F.RECORD_KEYS, F.flat_columns(language), strict=True))


def _csv(spec: dict) -> bytes:
    columns = [(k, n) for k, n in _columns(spec["language"]) if F.spec_of(k).key != spec.get("drop")]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([name for _, name in columns])
    for values in [*spec.get("rows_before", []), spec["values"]]:
        writer.writerow([_cell(values[key]) for key, _ in columns])
    return buffer.getvalue().encode(spec["encoding"])


def _cell(value: Any) -> str:
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else str(value)


def _json(spec: dict) -> bytes:
    obj = {
        name: (value.isoformat() if isinstance(value, date) else value)
        for key, name in _columns(spec["language"])
        if F.spec_of(key).key != spec.get("drop")
        for value in [spec["values"][key]]
    }
    data: Any = [obj] if spec["wrap"] else obj
    return json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")


def _png() -> bytes:
    """A small valid PNG: a screenshot saved under a workbook's name."""
    width, height = 8, 8
    raw = b"".join(b"\x00" + bytes([200, 220, 240]) * width for _ in range(height))

    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _pdf(file: DemoFile) -> bytes:
    text = f"weekly report {file.unit_code} {file.week_ending.isoformat()}"
    return (
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
        + f"% {text}\n".encode()
        + b"trailer << /Root 1 0 R >>\n%%EOF\n"
    )


def _encrypted_ole(file: DemoFile) -> bytes:
    """The outline of a password-protected Office file: an OLE compound file holding the
    ``EncryptionInfo`` and ``EncryptedPackage`` streams (the payload here is noise)."""
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(16) + b"\x3e\x00\x03\x00\xfe\xff\x09\x00"
    header = header.ljust(512, b"\x00")
    entries = b""
    for name in ("Root Entry", "EncryptionInfo", "EncryptedPackage"):
        encoded = name.encode("utf-16-le") + b"\x00\x00"
        entries += (encoded.ljust(64, b"\x00") + struct.pack("<H", len(encoded))).ljust(128, b"\x00")
    noise = random.Random(f"{file.unit_code}{file.week_ending}").randbytes(4096)
    return header + entries.ljust(512, b"\x00") + noise


def generate_inbox(
    inbox: str | Path,
    *,
    seed: int = 2022,
    weeks: Iterable[date] | None = None,
    until: datetime | None = None,
    campaign: config.Campaign | None = None,
) -> DemoManifest:
    """Write the demo reports into ``inbox/<unit_code>/``, each with its landing time as mtime.

    ``weeks`` limits the reporting weeks written; ``until`` writes only files landed at or before that
    moment (to feed the inbox as time goes by). The manifest covers the whole plan for the chosen weeks;
    ``written`` lists the files this call wrote.
    """
    campaign = campaign or config.campaign()
    manifest = plan_campaign(seed, campaign=campaign)
    if weeks is not None:
        chosen = set(weeks)
        manifest.reports = [r for r in manifest.reports if r.week_ending in chosen]
    root = Path(inbox)
    for file in sorted((f for r in manifest.reports for f in r.files), key=lambda f: f.path):
        if until is not None and file.landed_at > until:
            continue
        target = root / file.unit_code / file.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(render(file, campaign))
        stamp = file.landed_at.timestamp()
        os.utime(target, (stamp, stamp))
        manifest.written.append(file.path)
    return manifest


def generate_week(
    inbox: str | Path, week_ending: date, *, seed: int = 2022, until: datetime | None = None
) -> DemoManifest:
    """The files of one reporting week (all of them, or those landed by ``until``)."""
    return generate_inbox(inbox, seed=seed, weeks=[week_ending], until=until)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m recruitment_devkit.demo_inbox",
        description="Fill an inbox with the demo campaign's provincial weekly reports.",
    )
    parser.add_argument("inbox", type=Path, help="the inbox folder (unit folders are created in it)")
    parser.add_argument("--seed", type=int, default=2022)
    parser.add_argument("--weeks", type=int, help="only the first N reporting weeks")
    parser.add_argument("--until", type=datetime.fromisoformat, help="only files landed by then (ISO time)")
    parser.add_argument("--manifest", type=Path, help="also write the manifest as JSON here")
    args = parser.parse_args(argv)
    campaign = config.campaign()
    until = args.until
    if until is not None and until.tzinfo is None:
        until = until.replace(tzinfo=campaign.tz)
    weeks = campaign.weeks[: args.weeks] if args.weeks else None
    manifest = generate_inbox(args.inbox, seed=args.seed, weeks=weeks, until=until, campaign=campaign)
    if args.manifest:
        args.manifest.write_text(
            json.dumps(manifest.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8"
        )
    counts = ", ".join(f"{k} {v}" for k, v in manifest.counts().items())
    print(f"{len(manifest.written)} files written to {args.inbox} ({counts})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

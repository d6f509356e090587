"""The fields of the provincial weekly report (docs/reports.md), as data.

Every format is read through this table: the ``.xlsx`` form finds its rows by the Chinese labels, the
flat ``.csv``/``.json`` columns are ``<key>`` and ``<key>_cumulative`` or ``<header>本周`` and
``<header>累计``. Labels are compared after :func:`normalise_label`, so the full-width and half-width
parentheses, spaces, a trailing colon or a required-field asterisk do not matter.

Pure module: no Airflow import.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from typing import Literal

WEEK = "本周"
CUMULATIVE = "累计"
CUMULATIVE_SUFFIX = "_cumulative"


@dataclass(frozen=True)
class FieldSpec:
    key: str
    header: str  # the Chinese label of the ministry's template
    kind: Literal["id", "count", "text"]
    aliases: tuple[str, ...] = ()  # other labels people use for the same field

    @property
    def labels(self) -> tuple[str, ...]:
        return (self.header, *self.aliases)


ID_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("unit_code", "填报单位代码", "id", ("填报单位", "单位代码", "填报单位名称")),
    FieldSpec("week_ending", "统计截止日期", "id", ("截止日期", "统计截止时间")),
    FieldSpec("contact_name", "填报人", "id", ("联系人",)),
    FieldSpec("contact_phone", "联系电话", "id", ("电话",)),
)

COUNT_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("job_fairs_online", "线上专场招聘会(场)", "count"),
    FieldSpec("job_fairs_offline", "线下专场招聘会(场)", "count"),
    FieldSpec("campus_events", "高校校园招聘活动(场)", "count"),
    FieldSpec("employers", "参会用人单位(家)", "count"),
    FieldSpec("positions", "提供岗位(个)", "count"),
    FieldSpec("graduates", "参与毕业生(人次)", "count"),
    FieldSpec("employers_registered", "进校用人单位注册国家平台(家)", "count"),
    FieldSpec("enterprise_visits", "书记校长访企拓岗走访单位(家)", "count"),
    FieldSpec("positions_from_visits", "访企拓岗开拓岗位(个)", "count"),
    FieldSpec("guidance_sessions", "就业育人主题教育活动(场)", "count"),
    FieldSpec("guidance_participants", "参与学生(人次)", "count"),
    FieldSpec("hongzhi_trainees", "宏志助航计划培训(人)", "count"),
    FieldSpec("key_group_fairs", "重点群体专场招聘会(场)", "count"),
    FieldSpec("matching_projects", "供需对接就业育人项目(个)", "count"),
)

TEXT_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("highlights", "典型做法与成效", "text", ("典型做法",)),
    FieldSpec("problems", "存在问题与建议", "text", ("存在问题",)),
)

ALL_FIELDS: tuple[FieldSpec, ...] = ID_FIELDS + COUNT_FIELDS + TEXT_FIELDS
BY_KEY: dict[str, FieldSpec] = {f.key: f for f in ALL_FIELDS}
COUNT_KEYS: tuple[str, ...] = tuple(f.key for f in COUNT_FIELDS)


def cumulative_key(key: str) -> str:
    return key + CUMULATIVE_SUFFIX


# The keys of a canonical record, in the order of the form.
RECORD_KEYS: tuple[str, ...] = (
    *(f.key for f in ID_FIELDS),
    *(k for key in COUNT_KEYS for k in (key, cumulative_key(key))),
    *(f.key for f in TEXT_FIELDS),
)


def spec_of(record_key: str) -> FieldSpec:
    """The field a record key belongs to (``positions_cumulative`` belongs to ``positions``)."""
    return BY_KEY[record_key.removesuffix(CUMULATIVE_SUFFIX)]


def is_cumulative(record_key: str) -> bool:
    return record_key.endswith(CUMULATIVE_SUFFIX)


def display_name(record_key: str) -> str:
    """The Chinese name of a record key: ``提供岗位(个)本周``, ``提供岗位(个)累计``, ``联系电话``."""
    spec = spec_of(record_key)
    if spec.kind != "count":
        return spec.header
    return spec.header + (CUMULATIVE if is_cumulative(record_key) else WEEK)


def flat_columns(language: Literal["zh", "en"] = "zh") -> list[str]:
    """The column names of a flat ``.csv``/``.json`` report, in the order of the form."""
    if language == "en":
        return list(RECORD_KEYS)
    return [display_name(k) for k in RECORD_KEYS]


_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))
_SEPARATORS = re.compile(r"[\s_\-·—]+")
_NUMBERING = re.compile(r"^(\(?\d{1,2}[).、]|[一二三四五六七八九十]{1,3}、|\(\d{1,2}\))")
_UNIT = re.compile(r"\([^()]*\)$")


def normalise_label(text: object) -> str:
    """Fold a label or column name as people type it into one comparable form.

    NFKC turns full-width parentheses, letters and spaces into their ASCII forms; whitespace,
    underscores and hyphens are dropped (``Job Fairs Online`` = ``job_fairs_online``), as are a
    trailing colon and required-field asterisks. English is lower-cased.
    """
    if text is None:
        return ""
    folded = unicodedata.normalize("NFKC", str(text)).translate(_INVISIBLE)
    folded = _SEPARATORS.sub("", folded).strip("*:").lower()
    return folded


def normalise_form_label(text: object) -> str:
    """Like :func:`normalise_label`, and also drops a leading item number (``1.``, ``(3)``, ``二、``)."""
    return _NUMBERING.sub("", normalise_label(text))


def _header_variants(header: str) -> set[str]:
    """The header with and without its unit: ``线上专场招聘会(场)`` and ``线上专场招聘会``."""
    folded = normalise_label(header)
    return {folded, _UNIT.sub("", folded)}


@cache
def flat_column_index() -> dict[str, str]:
    """Normalised flat column name → record key (``线上专场招聘会(场)累计`` → ``job_fairs_online_cumulative``)."""
    index: dict[str, str] = {}
    for spec in ALL_FIELDS:
        if spec.kind != "count":
            for label in (spec.key, *spec.labels):
                index[normalise_label(label)] = spec.key
            continue
        index[normalise_label(spec.key)] = spec.key
        index[normalise_label(cumulative_key(spec.key))] = cumulative_key(spec.key)
        for variant in _header_variants(spec.header):
            for suffix, key in ((WEEK, spec.key), (CUMULATIVE, cumulative_key(spec.key))):
                index[variant + suffix] = key
                index[f"{variant}({suffix})"] = key
    return index


@cache
def form_label_index() -> dict[str, FieldSpec]:
    """Normalised label in the form's label column → field (identification, count and text fields)."""
    index: dict[str, FieldSpec] = {}
    for spec in ALL_FIELDS:
        if spec.kind == "count":
            for variant in _header_variants(spec.header):
                index[variant] = spec
        else:
            for label in spec.labels:
                index[normalise_label(label)] = spec
    return index

"""The national weekly summary as data: what ``friday_consolidation`` computes and the email renders.

The figures are computed elsewhere (from the warehouse's mart); this module only holds them. Every
timestamp is timezone-aware. Count dictionaries are keyed by the count keys of
:data:`recruitment_month.reports.fields.COUNT_KEYS`.

Rates follow DHIS2's definitions: *reporting rate* = reports received (on time or late) / reports
expected, *on-time rate* = reports received on time / reports expected.

Pure module: no Airflow import.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

STATUSES = ("on_time", "late", "missing", "rejected", "exempt")
STATUS_LABELS = {
    "on_time": "按时报送",
    "late": "逾期报送",
    "missing": "未报送",
    "rejected": "未通过校验",
    "exempt": "免报",  # excused by the ministry for the week (the control room)
}


@dataclass(frozen=True)
class UnitStatus:
    code: str
    name: str
    status: str  # 'on_time' | 'late' | 'missing' | 'rejected' (files received, none accepted) | 'exempt'
    landed_at: datetime | None  # tz-aware, of the counted revision
    revision: int | None
    warnings: int = 0
    week: dict[str, int] = field(default_factory=dict)  # count key -> this week's value (empty when missing)
    cumulative: dict[str, int] = field(default_factory=dict)  # count key -> cumulative value
    # Added for rendering: a short remark shown beside the status, e.g. why the last file was rejected.
    note: str | None = None
    # What the unit wrote in its counted revision: 典型做法与成效 and 存在问题与建议 (free text).
    highlights: str | None = None
    problems: str | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unit {self.code}: unknown status {self.status!r}")
        if self.landed_at is not None and self.landed_at.tzinfo is None:
            raise ValueError(f"unit {self.code}: landed_at must be timezone-aware")

    @property
    def reported(self) -> bool:
        return self.status in ("on_time", "late")

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]


@dataclass(frozen=True)
class QualityWarning:
    unit_code: str
    unit_name: str
    rule: str
    field: str | None
    value: str | None
    message: str


@dataclass(frozen=True)
class FeedFigures:
    new_postings: int
    openings: int
    duplicate_rate: float  # share of postings seen on more than one platform
    by_platform: list[dict]  # {platform_code, platform_name, new_postings, openings, duplicate_rate}
    by_province: list[dict]  # {unit_code, unit_name, new_postings, openings}
    by_industry: list[dict]  # {industry, new_postings, openings, key_industry: bool}


@dataclass(frozen=True)
class CrossCheck:
    unit_code: str
    unit_name: str
    reported_positions: int
    feed_openings: int
    ratio: float | None  # reported_positions / feed_openings (None when there are no feed openings)
    flag: str | None  # flag: Chinese explanation when implausible


@dataclass(frozen=True)
class WeeklySummary:
    campaign_name: str
    week_ending: date
    week_number: int
    weeks_total: int
    version: int  # 1 = preliminary, 2.. = revised
    generated_at: datetime  # tz-aware
    deadline: datetime  # tz-aware, Asia/Shanghai
    units: list[UnitStatus]  # all 32, in config order
    national_week: dict[
        str, int
    ]  # count key -> national total for the week (current revisions of reported units)
    national_cumulative: dict[str, int]
    previous_week: dict[str, int] | None  # last week's national weekly totals, for week-over-week
    trend: list[tuple[date, dict[str, int]]]  # every week up to this one: national weekly totals
    warnings: list[QualityWarning]
    feeds: FeedFigures | None
    crosscheck: list[CrossCheck]
    changes: list[str] = field(default_factory=list)  # for a revised version: what changed, Chinese sentences
    data_docs_url: str | None = None

    def __post_init__(self) -> None:
        if self.version < 1:
            raise ValueError(f"version must be 1 or more, not {self.version}")
        for name in ("generated_at", "deadline"):
            if getattr(self, name).tzinfo is None:
                raise ValueError(f"{name} must be timezone-aware")

    def _count(self, status: str) -> int:
        return sum(1 for u in self.units if u.status == status)

    @property
    def expected(self) -> int:
        return len(self.units)

    @property
    def on_time(self) -> int:
        return self._count("on_time")

    @property
    def late(self) -> int:
        return self._count("late")

    @property
    def missing(self) -> int:
        return self._count("missing")

    @property
    def rejected(self) -> int:
        return self._count("rejected")

    @property
    def exempt(self) -> int:
        return self._count("exempt")

    @property
    def reported(self) -> int:
        return self.on_time + self.late

    @property
    def reporting_rate(self) -> float:
        return self.reported / self.expected if self.expected else 0.0

    @property
    def on_time_rate(self) -> float:
        return self.on_time / self.expected if self.expected else 0.0

    @property
    def is_revised(self) -> bool:
        return self.version > 1

    @property
    def version_label(self) -> str:
        """``初步`` or ``修订第2版``."""
        return f"修订第{self.version}版" if self.is_revised else "初步"

    def units_with(self, status: str) -> list[UnitStatus]:
        return [u for u in self.units if u.status == status]

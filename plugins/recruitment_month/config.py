"""Campaign, reporting units and platforms: configuration files, validated.

The files live in ``include/config/``; a deployment points at its own with the environment variables
``RECRUITMENT_CAMPAIGN_FILE``, ``RECRUITMENT_UNITS_FILE`` and ``RECRUITMENT_PLATFORMS_FILE``. A mistake
raises :class:`ConfigError` naming the file, the key and the problem.

Pure module: no Airflow import.
"""

from __future__ import annotations

import os
import re
from datetime import date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = PROJECT_ROOT / "include" / "config"

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class ConfigError(ValueError):
    """A configuration file is wrong; the message names the file, the key and the problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Email = Annotated[str, Field(pattern=EMAIL_RE.pattern)]
ClockTime = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]


class ReminderTime(_Strict):
    day_offset: int = Field(ge=-6, le=6)
    time: ClockTime

    def at(self, week_ending: date, tz: ZoneInfo) -> datetime:
        hour, minute = (int(x) for x in self.time.split(":"))
        return datetime.combine(week_ending + timedelta(days=self.day_offset), time(hour, minute), tz)


class Reminders(_Strict):
    before_deadline: list[ReminderTime] = []
    follow_up: list[ReminderTime] = []

    @model_validator(mode="after")
    def _sides(self) -> Reminders:
        for r in self.before_deadline:
            if r.day_offset > 0:
                raise ValueError(f"before_deadline reminder {r.day_offset:+d} days is after the deadline")
        for r in self.follow_up:
            if r.day_offset < 0:
                raise ValueError(f"follow_up reminder {r.day_offset:+d} days is before the deadline")
        return self


class Ministry(_Strict):
    department: str
    contact_name: str
    phone: str
    email: Email


class Recipients(_Strict):
    summary: list[Email] = Field(min_length=1)
    escalation: list[Email] = Field(min_length=1)
    data_engineers: list[Email] = Field(min_length=1)


class ParseLimits(_Strict):
    """How far one untrusted report file may go before it is quarantined (``reports/isolation.py``)."""

    memory_mb: int = Field(default=1024, ge=128)  # address space of the parsing process
    seconds: float = Field(default=60, gt=0)  # wall time to parse one file
    attempts: int = Field(default=3, ge=1, le=10)  # tries before the file is quarantined


class Campaign(_Strict):
    code: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    name: str
    notice: str
    notice_date: date
    timezone: str
    first_week_ending: date
    last_week_ending: date
    deadline_weekday: Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    deadline_time: ClockTime
    reminders: Reminders
    ministry: Ministry
    recipients: Recipients
    sender: Email
    key_industries: list[str] = Field(min_length=1)
    max_report_file_bytes: int = Field(gt=0)
    parse_limits: ParseLimits = ParseLimits()

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _weeks(self) -> Campaign:
        weekday = WEEKDAYS.index(self.deadline_weekday)
        for key in ("first_week_ending", "last_week_ending"):
            day: date = getattr(self, key)
            if day.weekday() != weekday:
                raise ValueError(f"{key} {day} is a {WEEKDAYS[day.weekday()]}, not a {self.deadline_weekday}")
        if self.last_week_ending < self.first_week_ending:
            raise ValueError("last_week_ending is before first_week_ending")
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def weeks(self) -> list[date]:
        """Every reporting week of the campaign, identified by its ``week_ending`` date."""
        count = (self.last_week_ending - self.first_week_ending).days // 7 + 1
        return [self.first_week_ending + timedelta(weeks=i) for i in range(count)]

    def deadline(self, week_ending: date) -> datetime:
        """The reporting deadline of a week, timezone-aware in the campaign's zone."""
        hour, minute = (int(x) for x in self.deadline_time.split(":"))
        return datetime.combine(week_ending, time(hour, minute), self.tz)

    def is_week(self, day: date) -> bool:
        return day in set(self.weeks)

    def week_number(self, week_ending: date) -> int:
        """1 for the first reporting week."""
        return self.weeks.index(week_ending) + 1

    def week_for(self, moment: datetime) -> date | None:
        """The reporting week a moment belongs to: the first week whose deadline is at or after it
        (None after the campaign). Reports landing after the last deadline belong to the last week."""
        for week in self.weeks:
            if moment <= self.deadline(week):
                return week
        return None

    def latest_closed_week(self, moment: datetime) -> date | None:
        """The last week whose deadline has passed at ``moment``."""
        closed = [w for w in self.weeks if self.deadline(w) <= moment]
        return closed[-1] if closed else None


class Unit(_Strict):
    code: str = Field(pattern=r"^\d{6}$")
    name: str
    name_en: str
    short_names: list[str] = []
    contacts: list[Email] = Field(min_length=1)

    @property
    def names(self) -> list[str]:
        return [self.name, *self.short_names]


class Units(_Strict):
    units: list[Unit] = Field(min_length=1)

    @field_validator("units")
    @classmethod
    def _unique(cls, units: list[Unit]) -> list[Unit]:
        seen: set[str] = set()
        for unit in units:
            if unit.code in seen:
                raise ValueError(f"unit code {unit.code} appears twice")
            seen.add(unit.code)
        names: dict[str, str] = {}
        for unit in units:
            for name in unit.names:
                if name in names and names[name] != unit.code:
                    raise ValueError(f"name {name!r} is used by units {names[name]} and {unit.code}")
                names[name] = unit.code
        return units

    def by_code(self) -> dict[str, Unit]:
        return {u.code: u for u in self.units}

    def resolve(self, text: str) -> str | None:
        """The unit code for a code, a full name or a short name as people type them."""
        text = (text or "").strip().replace(" ", "").replace("\u3000", "")
        if not text:
            return None
        lookup = {}
        for unit in self.units:
            lookup[unit.code] = unit.code
            for name in unit.names:
                lookup[name] = unit.code
            lookup[unit.name_en.lower().replace(" ", "")] = unit.code
        return lookup.get(text) or lookup.get(text.lower())


SalaryUnit = Literal["HOUR", "DAY", "WEEK", "MONTH", "YEAR"]


class FeedLimits(_Strict):
    """What one extraction and one load of a platform may cost, and what a plausible salary is. Set in
    ``platforms.yaml`` under ``limits`` (every platform) or a platform's own ``limits`` (that one)."""

    max_page_bytes: int = Field(default=20 * 2**20, gt=0)
    """A page's body as received (compressed, if the server compressed it)."""
    max_page_inflated_bytes: int = Field(default=100 * 2**20, gt=0)
    """A page's body after decompression."""
    request_deadline_seconds: float = Field(default=120.0, gt=0)
    """One request, from sending it to the last byte of its body (the read timeout is per read)."""
    extraction_budget_seconds: float = Field(default=45 * 60.0, gt=0)
    """One extraction (every page of one window): past it the try fails and nothing is landed."""
    stalled_after_hours: float = Field(default=6.0, gt=0)
    """No successful load for longer than this and the control room shows the platform as stalled."""
    salary_monthly_min: int = Field(default=1_000, ge=0)
    salary_monthly_max: int = Field(default=100_000, gt=0)
    """A monthly salary outside [min, max] CNY is flagged and left out of salary figures."""

    @model_validator(mode="after")
    def _order(self) -> FeedLimits:
        if self.salary_monthly_min >= self.salary_monthly_max:
            raise ValueError("salary_monthly_min must be below salary_monthly_max")
        if self.max_page_inflated_bytes < self.max_page_bytes:
            raise ValueError("max_page_inflated_bytes must be at least max_page_bytes")
        return self


class Platform(_Strict):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    base_url: str = Field(pattern=r"^https?://")
    conn_id: str = Field(pattern=r"^[A-Za-z0-9_]+$")
    adapter: Literal["jsonld", "flat"]
    page_size: int = Field(gt=0, le=10000)
    rate_limit_per_second: float = Field(gt=0)
    field_map: dict[str, str] | None = None
    salary_unit: SalaryUnit = "MONTH"
    """The unit of a salary given as a bare number (``baseSalary: 72000``, ``"8000"``)."""
    limits: FeedLimits = FeedLimits()
    """This platform's limits: the file's ``limits`` with the platform's own ``limits`` over them."""

    @model_validator(mode="after")
    def _map(self) -> Platform:
        if self.adapter == "flat" and not self.field_map:
            raise ValueError("adapter 'flat' needs a field_map")
        return self


class Platforms(_Strict):
    limits: FeedLimits = FeedLimits()
    platforms: list[Platform] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _limits(cls, data: object) -> object:
        """Every platform's ``limits``: the file's, with the platform's own keys over them."""
        if not isinstance(data, dict) or not isinstance(data.get("platforms"), list):
            return data
        shared = data.get("limits") or {}
        if not isinstance(shared, dict):
            return data
        platforms = []
        for entry in data["platforms"]:
            if isinstance(entry, dict) and isinstance(entry.get("limits", {}), dict):
                entry = {**entry, "limits": {**shared, **(entry.get("limits") or {})}}
            platforms.append(entry)
        return {**data, "platforms": platforms}

    @field_validator("platforms")
    @classmethod
    def _unique(cls, platforms: list[Platform]) -> list[Platform]:
        codes = [p.code for p in platforms]
        dupes = sorted({c for c in codes if codes.count(c) > 1})
        if dupes:
            raise ValueError(f"platform codes appear twice: {', '.join(dupes)}")
        return platforms


def _location(loc: tuple, data: object) -> str:
    """Turn a pydantic error location into a readable key path, naming list items by code."""
    parts: list[str] = []
    node = data
    for item in loc:
        if isinstance(item, int) and isinstance(node, list):
            entry = node[item] if item < len(node) else None
            label = entry.get("code") if isinstance(entry, dict) else None
            parts.append(f"[{item}]" + (f"(code {label})" if label else ""))
            node = entry
        else:
            parts.append(("." if parts else "") + str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return "".join(parts) or "(top level)"


def load_file(path: Path, model: type[_Strict]) -> _Strict:
    """Read a YAML file into ``model``; any problem raises ConfigError naming file, key and problem."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: file not found") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, found {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            key = _location(err["loc"], data)
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                msg = "unknown key"
            lines.append(f"{path}: {key}: {msg}")
        raise ConfigError("\n".join(lines)) from None


def _path(env: str, default: str) -> Path:
    return Path(os.environ.get(env) or CONFIG_DIR / default)


@cache
def _campaign(path: Path) -> Campaign:
    return load_file(path, _CampaignFile).campaign


@cache
def _units(path: Path) -> Units:
    return load_file(path, Units)


@cache
def _platforms(path: Path) -> Platforms:
    return load_file(path, Platforms)


class _CampaignFile(_Strict):
    campaign: Campaign


def campaign() -> Campaign:
    return _campaign(_path("RECRUITMENT_CAMPAIGN_FILE", "campaign.yaml"))


def units() -> Units:
    return _units(_path("RECRUITMENT_UNITS_FILE", "units.yaml"))


def platforms() -> list[Platform]:
    return list(_platforms(_path("RECRUITMENT_PLATFORMS_FILE", "platforms.yaml")).platforms)


def platform(code: str) -> Platform:
    for p in platforms():
        if p.code == code:
            return p
    raise ConfigError(f"no platform with code {code!r}")

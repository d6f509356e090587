"""Campaign, reporting units and platforms: configuration files, validated.

The files live in ``include/config/``; a deployment points at its own with the environment variables
``RECRUITMENT_CAMPAIGN_FILE``, ``RECRUITMENT_UNITS_FILE`` and ``RECRUITMENT_PLATFORMS_FILE``
(:mod:`recruitment_month.settings`). A mistake raises :class:`ConfigError` naming the file, the key and
the problem.

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

from recruitment_month.settings import settings

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# ``${NAME}`` or ``${NAME:-default}`` in a platform's base_url: the environment variable NAME.
ENV_REFERENCE = re.compile(r"\$\{([A-Z][A-Z0-9_]*)(?::-([^}]*))?\}")


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


class Contact(_Strict):
    """Someone the readers of the ministry's emails can ask: a name, an email address and a phone."""

    name: str
    email: Email
    phone: str


class FinalReport(_Strict):
    """When the campaign's final report is sent: a day offset from the last reporting Friday and a
    local time, after the last week's last follow-up reminder."""

    day_offset: int = Field(default=3, ge=0, le=14)
    time: ClockTime = "12:00"

    def at(self, last_week_ending: date, tz: ZoneInfo) -> datetime:
        hour, minute = (int(x) for x in self.time.split(":"))
        return datetime.combine(last_week_ending + timedelta(days=self.day_offset), time(hour, minute), tz)


class Recipients(_Strict):
    summary: list[Email] = Field(min_length=1)
    escalation: list[Email] = Field(min_length=1)
    data_engineers: list[Email] = Field(min_length=1)


class ParseLimits(_Strict):
    """How far one untrusted report file may go before it is quarantined (``reports/isolation.py``)."""

    memory_mb: int = Field(default=1024, ge=128)  # address space of the parsing process
    seconds: float = Field(default=60, gt=0)  # wall time to parse one file
    attempts: int = Field(default=3, ge=1, le=10)  # tries before the file is quarantined


class Reviewer(_Strict):
    """A person who signs off the national summary: their Airflow user id and name."""

    id: str = Field(min_length=1)
    name: str = Field(min_length=1)


class SignOff(_Strict):
    """Whether the national summary waits for a reviewer's approval before it is sent (``sign_off``).

    ``timeout`` is an ISO 8601 duration (``PT4H``) or ``HH:MM:SS``; without an answer by then,
    ``on_timeout`` decides: ``send_with_note`` sends it saying it went out without sign-off, ``hold``
    keeps it and alerts the data engineers. ``review_url`` is the page a reviewer opens to read the
    rendered email: ``{base}`` is Airflow's ``[api] base_url``, ``{week}`` the week ending, ``{version}``."""

    required: bool = False
    reviewers: list[Reviewer] = []
    timeout: timedelta = Field(default=timedelta(hours=4), gt=timedelta(0))
    on_timeout: Literal["send_with_note", "hold"] = "hold"
    review_url: str = "{base}/control-room/summary/{week}/{version}"

    @model_validator(mode="after")
    def _reviewers(self) -> SignOff:
        if self.required and not self.reviewers:
            raise ValueError("sign-off is required but no reviewers are named")
        return self


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
    # Who answers the ministry's readers' questions about the figures, and where the Data Docs are served.
    data_team: Contact
    data_docs_url: str | None = Field(default=None, pattern=r"^https?://")
    final_report: FinalReport = FinalReport()
    revision_digest_at: ClockTime = "09:00"
    """Local time from which a day's digest of a closed week's revisions is mailed (one a week a day)."""
    sign_off: SignOff = SignOff()

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

    @model_validator(mode="after")
    def _final_report_last(self) -> Campaign:
        last = self.last_week_ending
        steps = [self.deadline(last), *(r.at(last, self.tz) for r in self.reminders.follow_up)]
        if self.final_report_at <= max(steps):
            raise ValueError("final_report is not after the last week's last follow-up reminder")
        return self

    @property
    def final_report_at(self) -> datetime:
        """When the final report of the campaign is due, in the campaign's zone."""
        return self.final_report.at(self.last_week_ending, self.tz)

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

    def digest_day(self, moment: datetime) -> date:
        """The latest day whose revision digest is due at ``moment`` (today once its digest time has
        passed, yesterday before it)."""
        hour, minute = (int(x) for x in self.revision_digest_at.split(":"))
        local = moment.astimezone(self.tz)
        if local.time() >= time(hour, minute):
            return local.date()
        return local.date() - timedelta(days=1)

    def latest_closed_week(self, moment: datetime) -> date | None:
        """The last week whose deadline has passed at ``moment``."""
        closed = [w for w in self.weeks if self.deadline(w) <= moment]
        return closed[-1] if closed else None


def authority_suffix(unit_name: str) -> str:
    """How the official name of a unit's education authority ends: 教育委员会 for the municipalities
    directly under the central government, 教育局 for the Xinjiang Production and Construction Corps,
    教育厅 for the provinces and autonomous regions."""
    if unit_name.endswith("兵团"):
        return "教育局"
    return "教育委员会" if unit_name.endswith("市") else "教育厅"


class Unit(_Strict):
    code: str = Field(pattern=r"^\d{6}$")
    name: str
    # The unit's education authority by its official name: the addressee of every message to the unit.
    authority: str
    name_en: str
    short_names: list[str] = []
    contacts: list[Email] = Field(min_length=1)
    # The person the ministry phones when the unit's report is outstanding and none of its reports
    # names one (a report's 填报人 and 联系电话 come first).
    contact_name: str | None = None
    contact_phone: str | None = None

    @model_validator(mode="after")
    def _authority(self) -> Unit:
        suffix = authority_suffix(self.name)
        if not (self.authority.startswith(self.name) and self.authority.endswith(suffix)):
            raise ValueError(
                f"authority {self.authority!r} should be the official name of {self.name}'s education "
                f"authority: {self.name}…{suffix}"
            )
        return self

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


def expand_environment(text: str) -> str:
    """``text`` with each ``${NAME}`` / ``${NAME:-default}`` replaced by the environment variable NAME
    (the default when it is unset or empty); an unset variable without a default is an error."""

    def value(match: re.Match) -> str:
        name, default = match.group(1), match.group(2)
        found = os.environ.get(name) or default
        if found is None:
            raise ValueError(
                f"the environment variable {name} is not set and {match.group(0)} has no default"
            )
        return found

    return ENV_REFERENCE.sub(value, text)


class Platform(_Strict):
    """One partner platform. Where its feed is comes from here (``base_url``); the bearer token is the
    password of the Airflow connection ``conn_id`` (``feed_<code>`` unless set), whose host, when it has
    one, overrides ``base_url`` (:func:`recruitment_month.feeds.credentials.resolve`)."""

    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    base_url: str = Field(pattern=r"^https?://")
    """May name environment variables: ``${FEEDS_URL:-http://127.0.0.1:8765}/p/zhilian``."""
    conn_id: str = Field(pattern=r"^[A-Za-z0-9_]+$")
    adapter: Literal["jsonld", "flat"]
    page_size: int = Field(gt=0, le=10000)
    rate_limit_per_second: float = Field(gt=0)
    field_map: dict[str, str] | None = None
    salary_unit: SalaryUnit = "MONTH"
    """The unit of a salary given as a bare number (``baseSalary: 72000``, ``"8000"``)."""
    limits: FeedLimits = FeedLimits()
    """This platform's limits: the file's ``limits`` with the platform's own ``limits`` over them."""

    @model_validator(mode="before")
    @classmethod
    def _conn_id(cls, data: object) -> object:
        if isinstance(data, dict) and "conn_id" not in data and isinstance(data.get("code"), str):
            return {**data, "conn_id": f"feed_{data['code']}"}
        return data

    @field_validator("base_url", mode="before")
    @classmethod
    def _expand(cls, value: object) -> object:
        return expand_environment(value) if isinstance(value, str) else value

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
    return _campaign(settings().campaign_file)


def units() -> Units:
    return _units(settings().units_file)


def platforms() -> list[Platform]:
    return list(_platforms(settings().platforms_file).platforms)


def platform(code: str) -> Platform:
    for p in platforms():
        if p.code == code:
            return p
    raise ConfigError(f"no platform with code {code!r}")

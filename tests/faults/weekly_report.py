"""A valid weekly report of the campaign's first week, and Beijing times: shared by the fault tests."""

from __future__ import annotations

import json
from datetime import date, datetime

from recruitment_month import config
from recruitment_month.reports.fields import COUNT_KEYS, cumulative_key

CAMPAIGN = config.campaign()
WEEK1 = CAMPAIGN.weeks[0]


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """``day`` at ``hour:minute`` Beijing time."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=CAMPAIGN.tz)


def record(unit: str, week: date = WEEK1, base: int = 100, **overrides) -> dict:
    """A report that passes every rule: each count ``base + i`` for the week and as the cumulative."""
    row = {
        "unit_code": unit,
        "week_ending": week.isoformat(),
        "contact_name": "王老师",
        "contact_phone": "010-66000000",
        "highlights": "组织线上线下招聘会。",
        "problems": "无",
    }
    for i, key in enumerate(COUNT_KEYS):
        row[key] = row[cumulative_key(key)] = base + i
    row["positions"] = row["positions_cumulative"] = row["employers"] * 20
    row.update(overrides)
    return row


def as_json(unit: str, **overrides) -> bytes:
    """``record(unit, **overrides)`` as a JSON report file."""
    return json.dumps(record(unit, **overrides), ensure_ascii=False).encode()

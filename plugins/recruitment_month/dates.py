"""Dates and times as official Chinese documents write them: 2022年12月2日, 11月8日 17:00.

No zero padding on months and days. A time within a minute of a deadline shows its seconds, so that a
report that landed at 17:00:01 never reads "收到时间 17:00 / 截止 17:00 / 逾期报送". Every message to a
province formats its dates here.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

# Closer than this to the deadline, a time shows its seconds.
SECONDS_NEAR = timedelta(minutes=1)


def cn_date(day: date, *, year: bool = True) -> str:
    """``2022年12月2日`` (``12月2日`` without the year)."""
    return f"{day.year}年{day.month}月{day.day}日" if year else f"{day.month}月{day.day}日"


def cn_moment(moment: datetime, tz: ZoneInfo, *, near: datetime | None = None, year: bool = True) -> str:
    """``2022年11月8日 17:00`` in ``tz``; ``…17:00:01`` when ``near`` (a deadline, or the time being
    compared with one) is less than a minute away."""
    local = moment.astimezone(tz)
    clock = (
        f"{local:%H:%M:%S}" if near is not None and abs(moment - near) < SECONDS_NEAR else f"{local:%H:%M}"
    )
    return f"{cn_date(local.date(), year=year)} {clock}"

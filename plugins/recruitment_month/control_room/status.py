"""A unit's status for a week, as the board shows it. No Airflow, no database.

The rule is the campaign's one rule: the unit's *first accepted* report decides on time or late (by its
landing time against the deadline); rejected when only rejected files arrived; missing when nothing did.
A later accepted file is a correction and never changes the timeliness. A unit excused by the ministry
for the week is exempt, unless it reported anyway. Before the deadline a unit with nothing accepted is
still awaited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# Words and colours as in the summary email.
WORDS = {
    "on_time": "按时报送",
    "late": "逾期报送",
    "missing": "未报送",
    "rejected": "未通过校验",
    "exempt": "免报",
    "awaiting": "待报送",
}
COLOURS = {
    "on_time": "#1a7f37",
    "late": "#b35900",
    "missing": "#cf222e",
    "rejected": "#8250df",
    "exempt": "#57606a",
    "awaiting": "#8c959f",
}
BACKGROUNDS = {
    "on_time": "#eefbf1",
    "late": "#fff8e6",
    "missing": "#fff1f0",
    "rejected": "#f6f0ff",
    "exempt": "#f0f3f6",
    "awaiting": "#ffffff",
}
CORRECTED = "已更正"


@dataclass(frozen=True)
class Evidence:
    """What the warehouse holds for one unit and week."""

    first_accepted_at: datetime | None  # landing time of the first accepted report
    revisions: int  # accepted reports (1 + corrections)
    rejected: bool  # rejected files attributed to the week
    exempt: bool
    deadline: datetime
    now: datetime


def status(e: Evidence) -> str:
    """The campaign's rule (:func:`recruitment_month.status.decide`), plus what only a live board
    needs: before the deadline a unit with nothing is still awaited, not missing."""
    from recruitment_month.status import EXEMPT, MISSING, REJECTED, decide

    decided = decide(e.first_accepted_at, e.deadline, any_rejected=e.rejected)
    if decided in (MISSING, REJECTED) and e.exempt:
        return EXEMPT
    if decided == MISSING and e.now < e.deadline:
        return "awaiting"
    return decided


def corrected(e: Evidence) -> bool:
    return e.revisions > 1

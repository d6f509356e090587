"""The board's status rule, alone: the first accepted report decides; corrections never change it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from recruitment_month.control_room.status import Evidence, corrected, status

DEADLINE = datetime(2022, 11, 11, 9, 0, tzinfo=UTC)  # Friday 17:00 Beijing
AFTER = DEADLINE + timedelta(days=3)


def evidence(**kw) -> Evidence:
    base = {
        "first_accepted_at": None,
        "revisions": 0,
        "rejected": False,
        "exempt": False,
        "deadline": DEADLINE,
        "now": AFTER,
    }
    return Evidence(**{**base, **kw})


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        ({"first_accepted_at": DEADLINE, "revisions": 1}, "on_time"),  # at the deadline is on time
        ({"first_accepted_at": DEADLINE + timedelta(seconds=1), "revisions": 1}, "late"),
        ({"first_accepted_at": DEADLINE - timedelta(hours=1), "revisions": 3, "rejected": True}, "on_time"),
        ({"rejected": True}, "rejected"),
        ({}, "missing"),
        ({"exempt": True, "rejected": True}, "exempt"),
        ({"exempt": True, "first_accepted_at": AFTER, "revisions": 1}, "late"),  # reported anyway
        ({"now": DEADLINE - timedelta(hours=2)}, "awaiting"),
        ({"now": DEADLINE - timedelta(hours=2), "rejected": True}, "rejected"),
    ],
)
def test_status(kw, expected):
    assert status(evidence(**kw)) == expected


def test_a_correction_is_flagged_and_keeps_the_timeliness():
    first = evidence(first_accepted_at=DEADLINE - timedelta(hours=1), revisions=1)
    again = evidence(first_accepted_at=DEADLINE - timedelta(hours=1), revisions=2)
    assert (status(first), corrected(first)) == ("on_time", False)
    assert (status(again), corrected(again)) == ("on_time", True)

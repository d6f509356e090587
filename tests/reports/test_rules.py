"""History rules: continuity, decreases and outliers, on the demo campaign's realistic figures."""

from __future__ import annotations

from datetime import date

import pytest

from recruitment_devkit.demo_inbox import plan_campaign
from recruitment_month.reports.fields import COUNT_KEYS, cumulative_key
from recruitment_month.reports.rules import check_history


@pytest.fixture(scope="module")
def reports() -> dict[tuple[str, date], dict]:
    """The last accepted record of every (unit, week) of the demo plan."""
    plan = plan_campaign(2022)
    out = {}
    for report in plan.reports:
        accepted = [f for f in report.files if f.expect == "accepted" and f.record]
        if accepted:
            record = dict(accepted[-1].record)
            out[(report.unit_code, report.week_ending)] = record
    return out


def _context(reports, unit, week):
    own = [r for (u, w), r in reports.items() if u == unit and w != week]
    peers = [r for (u, w), r in reports.items() if u != unit and w == week]
    return own, peers


def test_realistic_figures_raise_few_outlier_warnings(reports):
    flagged = 0
    for (unit, week), record in reports.items():
        own, peers = _context(reports, unit, week)
        problems = check_history(record, own, peers)
        flagged += any(p.rule.startswith("outlier") for p in problems)
    assert flagged / len(reports) < 0.05, f"{flagged} of {len(reports)} reports flagged"


@pytest.mark.parametrize("unit", ["440000", "540000", "660000"])  # a big province, a small one, the Corps
def test_an_extra_digit_is_caught_in_the_first_week_by_the_peers(reports, unit):
    week = min(w for _, w in reports)
    record = dict(reports[(unit, week)])
    record["positions"] = record["positions"] * 10
    record["positions_cumulative"] = record["positions_cumulative"] + record["positions"]
    _, peers = _context(reports, unit, week)
    problems = check_history(record, [], peers)
    assert [(p.rule, p.field) for p in problems if p.rule.startswith("outlier")] == [
        ("outlier_peers", "positions")
    ]
    assert "远高于" in problems[0].message


def test_a_tenfold_drop_is_caught_against_the_units_own_weeks(reports):
    unit, week = "320000", date(2022, 12, 16)
    record = dict(reports[(unit, week)])
    record["graduates"] = record["graduates"] // 10
    own, _ = _context(reports, unit, week)
    problems = [p for p in check_history(record, own, []) if p.rule.startswith("outlier")]
    assert [(p.rule, p.field) for p in problems] == [("outlier_own_history", "graduates")]
    assert "远低于本单位此前各周" in problems[0].message


def test_continuity_and_decrease():
    def rec(week, weekly, cumulative):
        r = {"week_ending": week}
        for k in COUNT_KEYS:
            r[k], r[cumulative_key(k)] = weekly, cumulative
        return r

    previous = rec(date(2022, 11, 11), 10, 10)
    fine = rec(date(2022, 11, 18), 5, 15)
    assert check_history(fine, [previous], []) == []
    jump = rec(date(2022, 11, 18), 5, 16)
    assert {p.rule for p in check_history(jump, [previous], [])} == {"cumulative_discontinuity"}
    down = rec(date(2022, 11, 18), 5, 8)
    assert {p.rule for p in check_history(down, [previous], [])} == {"cumulative_decreased"}
    # after a missing week, continuity cannot be checked, but a decrease still can
    gap = rec(date(2022, 11, 25), 5, 30)
    assert check_history(gap, [previous], []) == []

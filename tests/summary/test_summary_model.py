"""The summary's data model and the sample summary."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from recruitment_devkit.sample_summary import sample_summary
from recruitment_month import config
from recruitment_month.reports.fields import COUNT_KEYS
from recruitment_month.summary.model import UnitStatus, WeeklySummary


def test_derived_figures_follow_dhis2_definitions(preliminary: WeeklySummary):
    s = preliminary
    assert s.expected == 32
    assert (s.on_time, s.late, s.missing, s.rejected) == (28, 1, 2, 1)
    assert s.reported == 29
    assert s.reporting_rate == pytest.approx(29 / 32)
    assert s.on_time_rate == pytest.approx(28 / 32)
    assert not s.is_revised
    assert s.version_label == "初步"
    assert [u.name for u in s.units_with("missing")] == ["海南省", "新疆生产建设兵团"]


def test_a_revision_brings_a_straggler_in_and_says_what_changed(preliminary, revised):
    assert revised.is_revised
    assert revised.version_label == "修订第2版"
    assert revised.reported == preliminary.reported + 1
    hainan = next(u for u in revised.units if u.code == "460000")
    assert hainan.status == "late"
    assert hainan.landed_at > revised.deadline
    assert revised.changes
    assert "海南省" in revised.changes[0]
    assert revised.generated_at > hainan.landed_at
    assert (
        revised.national_week["positions"]
        == preliminary.national_week["positions"] + hainan.week["positions"]
    )


def test_validation():
    with pytest.raises(ValueError, match="unknown status"):
        UnitStatus("110000", "北京市", "lost", None, None)
    naive = datetime(2022, 11, 25, 1, tzinfo=UTC).replace(tzinfo=None)  # what a summary refuses
    with pytest.raises(ValueError, match="timezone-aware"):
        UnitStatus("110000", "北京市", "on_time", naive, 1)
    s = sample_summary(1, 1)
    with pytest.raises(ValueError, match="timezone-aware"):
        replace(s, generated_at=naive)
    with pytest.raises(ValueError, match="version"):
        replace(s, version=0)


def test_sample_is_consistent_and_realistic(preliminary: WeeklySummary):
    s = preliminary
    campaign = config.campaign()
    assert [u.code for u in s.units] == [u.code for u in config.units().units]
    assert s.week_ending == date(2022, 11, 25)
    assert s.week_number == 3
    assert s.weeks_total == 8
    assert s.deadline == campaign.deadline(s.week_ending)
    assert s.generated_at.tzinfo is not None
    assert s.generated_at > s.deadline
    for key in COUNT_KEYS:
        assert s.national_week[key] == sum(u.week.get(key, 0) for u in s.units if u.reported)
        assert s.national_cumulative[key] == sum(u.cumulative.get(key, 0) for u in s.units)
    assert all(not u.week for u in s.units if not u.reported)
    assert [w for w, _ in s.trend] == campaign.weeks[:3]
    assert s.trend[-1][1] == s.national_week
    assert s.previous_week == s.trend[-2][1]
    for u in s.units:
        if u.reported:
            assert u.landed_at.tzinfo is not None
            assert (u.landed_at <= s.deadline) == (u.status == "on_time")
            assert all(u.cumulative[k] >= u.week[k] for k in COUNT_KEYS)
    big = next(u for u in s.units if u.code == "320000")  # 江苏
    assert 100 <= big.week["job_fairs_offline"] < 1000
    assert 1_000 <= big.week["employers"] < 100_000
    assert 10_000 <= big.week["positions"] < 1_000_000
    assert (
        sum(w.unit_code == "410000" for w in s.warnings)
        == next(u for u in s.units if u.code == "410000").warnings
    )
    assert s.feeds is not None
    assert len(s.feeds.by_platform) == len(config.platforms())
    assert {r["industry"] for r in s.feeds.by_industry if r["key_industry"]} == set(campaign.key_industries)
    assert any(c.flag for c in s.crosscheck)
    assert not all(c.flag for c in s.crosscheck)


def test_sample_is_deterministic():
    assert sample_summary(5, 3) == sample_summary(5, 3)
    first = sample_summary(1, 1)
    assert first.previous_week is None
    assert len(first.trend) == 1
    assert first.generated_at.astimezone(UTC).tzinfo is UTC

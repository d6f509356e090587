"""The summary's data model, and the sample summaries the pipeline computed over the demo inbox: every
figure is the inbox's (worked out from its manifest alone), every status what the landing times say."""

from __future__ import annotations

import statistics
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from inbox_truth import week_truth

from recruitment_month import config
from recruitment_month.reports.fields import COUNT_KEYS, cumulative_key
from recruitment_month.summary import compute
from recruitment_month.summary.model import UnitStatus, WeeklySummary

WEEK2 = date(2022, 11, 18)


def truth(sample, summary: WeeklySummary):
    codes = [u.code for u in config.units().units]
    return week_truth(sample.manifest, codes, summary.week_ending, summary.generated_at)


def test_derived_figures_follow_dhis2_definitions(preliminary: WeeklySummary):
    s = preliminary
    assert s.expected == 32
    assert (s.on_time, s.late, s.missing, s.rejected) == (28, 0, 1, 3)
    assert s.reported == 28
    assert s.reporting_rate == pytest.approx(28 / 32)
    assert s.on_time_rate == pytest.approx(28 / 32)
    assert not s.is_revised
    assert s.version_label == "初步"
    assert [u.name for u in s.units_with("missing")] == ["辽宁省"]
    assert [u.name for u in s.units_with("rejected")] == ["浙江省", "福建省", "广东省"]


def test_statuses_and_figures_are_the_inboxs(sample, preliminary, revised):
    for summary in (preliminary, revised):
        expected = truth(sample, summary)
        for unit in summary.units:
            want = expected[unit.code]
            assert unit.status == want.status, (summary.version, unit.code)
            if want.record is None:
                assert not unit.week
                continue
            assert unit.week == {k: want.record[k] for k in COUNT_KEYS}, unit.code
            assert unit.cumulative == {k: want.record[cumulative_key(k)] for k in COUNT_KEYS}, unit.code
            assert unit.landed_at == want.landed_at
        for key in COUNT_KEYS:
            assert summary.national_week[key] == sum(t.record[key] for t in expected.values() if t.record)


def test_a_revision_brings_the_rejected_units_in_and_says_what_changed(sample, preliminary, revised):
    assert revised.is_revised
    assert revised.version_label == "修订第2版"
    assert [v for v in sample.versions() if v["week_ending"] == WEEK2.isoformat()] == [
        {"week_ending": "2022-11-18", "version": 1, "kind": "preliminary"},
        {"week_ending": "2022-11-18", "version": 2, "kind": "revised"},
    ]
    came = [u for u in revised.units if u.code in ("330000", "350000", "440000")]
    assert [u.status for u in came] == ["late", "late", "late"]
    assert all(revised.deadline < u.landed_at <= revised.generated_at for u in came)
    assert revised.reported == preliminary.reported + 3
    assert [line for line in revised.changes if "→ 逾期报送" in line] == [
        "浙江省：未通过校验 → 逾期报送",
        "福建省：未通过校验 → 逾期报送",
        "广东省：未通过校验 → 逾期报送",
    ]
    added = sum(u.week["positions"] for u in came)
    assert revised.national_week["positions"] == preliminary.national_week["positions"] + added
    was, now = preliminary.national_week["positions"], revised.national_week["positions"]
    assert f"全国提供岗位(个)本周：{was:,} → {now:,}" in revised.changes


def test_validation(first_week):
    with pytest.raises(ValueError, match="unknown status"):
        UnitStatus("110000", "北京市", "lost", None, None)
    naive = datetime(2022, 11, 25, 1, tzinfo=UTC).replace(tzinfo=None)  # what a summary refuses
    with pytest.raises(ValueError, match="timezone-aware"):
        UnitStatus("110000", "北京市", "on_time", naive, 1)
    with pytest.raises(ValueError, match="timezone-aware"):
        replace(first_week, generated_at=naive)
    with pytest.raises(ValueError, match="version"):
        replace(first_week, version=0)


def test_sample_is_consistent_and_realistic(preliminary: WeeklySummary):
    s = preliminary
    campaign = config.campaign()
    assert [u.code for u in s.units] == [u.code for u in config.units().units]
    assert (s.week_ending, s.week_number, s.weeks_total) == (WEEK2, 2, 8)
    assert s.deadline == campaign.deadline(s.week_ending)
    assert s.generated_at == s.deadline  # the preliminary version is frozen at the deadline
    for key in COUNT_KEYS:
        assert s.national_week[key] == sum(u.week.get(key, 0) for u in s.units if u.reported)
    assert [w for w, _ in s.trend] == campaign.weeks[:2]
    assert s.trend[-1][1] == s.national_week
    assert s.previous_week == s.trend[-2][1]
    for u in s.units:
        assert u.warnings == sum(w.unit_code == u.code for w in s.warnings), u.code
        if u.reported:
            assert (u.landed_at <= s.deadline) == (u.status == "on_time")
            assert all(u.cumulative[k] >= u.week[k] for k in COUNT_KEYS)
    big = next(u for u in s.units if u.code == "320000")  # 江苏
    assert 100 <= big.week["job_fairs_offline"] < 1000
    assert 1_000 <= big.week["employers"] < 100_000
    assert 10_000 <= big.week["positions"] < 1_000_000
    assert s.feeds is not None
    assert len(s.feeds.by_platform) == len(config.platforms())
    assert {r["industry"] for r in s.feeds.by_industry if r["key_industry"]} == set(campaign.key_industries)


def test_the_feeds_show_a_plausible_share_of_the_reported_positions(preliminary: WeeklySummary):
    """The platforms publish a few percent to a few tens of percent of the positions the provinces
    report, each province in proportion: the cross-check's typical ratio is in that range, and it flags
    exactly the units its rule names."""
    s = preliminary
    assert 0.02 <= s.feeds.openings / s.national_week["positions"] <= 0.5
    ratios = [c.ratio for c in s.crosscheck if c.ratio]
    assert len(ratios) >= 26  # a small province may have no posting in a week
    median = statistics.median(ratios)
    assert 2 <= median <= 50
    for check in s.crosscheck:
        off = check.ratio is None or not median / 5 <= check.ratio <= median * 5
        assert bool(check.flag) == (off and check.reported_positions >= 1000), check
    assert sum(bool(c.flag) for c in s.crosscheck) <= 4


def test_the_stored_summary_is_what_the_warehouse_computes_again(sample, preliminary, first_week):
    with sample.engine().connect() as conn:
        again = compute.compute(conn, WEEK2, preliminary.deadline, version=1)
    assert compute.fingerprint(again) == compute.fingerprint(preliminary)
    assert again.feeds == preliminary.feeds
    assert first_week.previous_week is None
    assert len(first_week.trend) == 1

"""The dev kit's generators all size a unit by the one table in ``recruitment_devkit.unit_sizes``."""

import random
from collections import Counter
from datetime import date

from recruitment_devkit import demo_inbox, feed_simulator, sample_summary, unit_sizes
from recruitment_month import config

BIG, SMALL = "440000", "540000"  # 广东, 西藏


def test_the_table_covers_every_unit():
    assert set(unit_sizes.UNIT_SIZES) == {u.code for u in config.units().units}
    assert all(size > 0 for size in unit_sizes.UNIT_SIZES.values())


def test_sample_summary_scales_by_the_table():
    week = date(2022, 11, 25)
    big, small = sample_summary._weekly(BIG, week, 2), sample_summary._weekly(SMALL, week, 2)
    expected = unit_sizes.size(BIG) / unit_sizes.size(SMALL)
    # Each figure carries ±15% noise, so the ratio is within (0.85/1.15, 1.15/0.85) of the sizes'.
    assert expected * 0.85 / 1.15 <= big["graduates"] / small["graduates"] <= expected * 1.15 / 0.85


def test_demo_inbox_reads_the_table_when_it_plans(monkeypatch):
    codes = [u.code for u in config.units().units]

    def ratio():
        truth = demo_inbox._true_figures(random.Random(7), codes, 8)
        total = {code: sum(truth[code, "positions", w] for w in range(8)) for code in (BIG, SMALL)}
        return total[BIG] / total[SMALL]

    assert ratio() > 10  # 8.2 against 0.18
    monkeypatch.setitem(unit_sizes.UNIT_SIZES, SMALL, unit_sizes.size(BIG))
    assert 0.25 < ratio() < 4  # the same size: the same order of magnitude, whatever the noise


def test_feed_simulator_places_postings_by_the_table():
    counts = Counter(feed_simulator._PROVINCES[i][0] for i in feed_simulator._PROVINCE_TABLE)
    total = sum(unit_sizes.size(code) for code, _ in feed_simulator._PROVINCES)
    for code, _ in feed_simulator._PROVINCES:
        share = unit_sizes.size(code) / total
        assert abs(counts[code] / len(feed_simulator._PROVINCE_TABLE) - share) < 2 / 4096, code

"""The dev kit's generators all size a unit by the one table in ``recruitment_devkit.unit_sizes``; the
sample summary has no numbers of its own: it replays the demo inbox and the demo's feed simulator."""

import random
from collections import Counter

from recruitment_devkit import demo, demo_inbox, feed_simulator, sample_summary, unit_sizes
from recruitment_month import config

BIG, SMALL = "440000", "540000"  # 广东, 西藏


def test_the_table_covers_every_unit():
    assert set(unit_sizes.UNIT_SIZES) == {u.code for u in config.units().units}
    assert all(size > 0 for size in unit_sizes.UNIT_SIZES.values())


def test_the_sample_summary_replays_the_generators_that_read_the_table(monkeypatch):
    """The sample is computed from the demo inbox's reports and the demo simulator's postings, both
    placed by the table: a unit made as large as another gets its share of the feeds' employers."""
    assert not hasattr(sample_summary, "unit_sizes")  # no figures of its own

    def employers_in(code: str) -> int:
        table = feed_simulator._table(unit_sizes.size(c) for c, _ in feed_simulator._PROVINCES)
        monkeypatch.setattr(feed_simulator, "_PROVINCE_TABLE", table)
        generator = demo.demo_feeds()._gen
        provinces = [feed_simulator._PROVINCES[generator.employer(e)[3]][0] for e in range(4000)]
        return provinces.count(code)

    before = employers_in(SMALL)
    assert employers_in(BIG) > 10 * before
    monkeypatch.setitem(unit_sizes.UNIT_SIZES, SMALL, unit_sizes.size(BIG))
    assert employers_in(SMALL) > 10 * before


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

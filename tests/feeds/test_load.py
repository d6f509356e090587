"""Loading feed items: every simulator posting lands once, reruns change nothing, history is kept,
reposts share a cluster; on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from recruitment_month import config, schema, warehouse
from recruitment_month.feeds import load
from recruitment_month.feeds.simulator import FeedSimulator

SINCE = datetime(2022, 11, 1, tzinfo=UTC)
UNTIL = datetime(2022, 11, 15, tzinfo=UTC)


@pytest.fixture(scope="module")
def simulator():
    # Not started: its ground truth is all these tests need.
    return FeedSimulator(postings_per_platform=600, seed=7)


def _items(sim, code, since=SINCE, until=UNTIL):
    return [e["item"] for e in sim.expected_postings(code, since, until)]


def _count(engine, table, *where):
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def _snapshot(engine):
    tables = (schema.core_posting, schema.core_posting_version, schema.audit_feed_quarantine)
    with engine.connect() as conn:
        return {t.name: sorted(tuple(r) for r in conn.execute(select(t)).all()) for t in tables}


def test_every_platforms_postings_land_once_and_defects_are_quarantined(warehouse_url, simulator):
    engine = warehouse.engine(warehouse_url)
    for platform in config.platforms():
        truth = simulator.expected_postings(platform.code, SINCE, UNTIL)
        report = load.load(engine, platform, [e["item"] for e in truth], since=SINCE, until=UNTIL)
        rejected = {e["posting_id"] for e in truth if e["defect"] in ("bad_credit_code", "missing_title")}
        assert report.received == len(truth)
        assert report.quarantined == len(rejected), report.quarantine_by_rule
        assert report.new == len(truth) - len(rejected)
        with engine.connect() as conn:
            loaded = set(
                conn.execute(
                    select(schema.core_posting.c.posting_id).where(
                        schema.core_posting.c.platform_code == platform.code
                    )
                ).scalars()
            )
            quarantined = set(
                conn.execute(
                    select(schema.audit_feed_quarantine.c.posting_id).where(
                        schema.audit_feed_quarantine.c.platform_code == platform.code
                    )
                ).scalars()
            )
        assert loaded == {e["posting_id"] for e in truth} - rejected
        assert quarantined == rejected


def test_rerunning_an_interval_changes_nothing(warehouse_url, simulator):
    engine = warehouse.engine(warehouse_url)
    platform = config.platform("zhilian")
    items = _items(simulator, "zhilian")
    first = load.load(engine, platform, items, since=SINCE, until=UNTIL)
    before = _snapshot(engine)
    again = load.load(engine, platform, items, since=SINCE, until=UNTIL)
    assert _snapshot(engine) == before
    assert (again.new, again.updated, again.unchanged) == (0, 0, first.new)


def test_changed_postings_update_and_keep_their_history(warehouse_url, simulator):
    engine = warehouse.engine(warehouse_url)
    platform = config.platform("liepin")
    items = _items(simulator, "liepin")
    load.load(engine, platform, items, since=SINCE, until=UNTIL)
    later_until = UNTIL + timedelta(hours=1)
    changed = copy.deepcopy(items[:10])
    for item in changed:
        item["title"] = item.get("title", "") + "（急聘）高级"
        item["dateModified"] = "2022-11-15T00:30:00+00:00"
    stale = copy.deepcopy(items[10])
    stale["title"] = "旧版本的标题"
    stale["dateModified"] = "2022-10-01T00:00:00+00:00"  # older than what the warehouse holds
    report = load.load(engine, platform, [*changed, stale], since=UNTIL, until=later_until)
    sound = [
        i for i in changed if simulator.defect("liepin", _id(i)) not in ("bad_credit_code", "missing_title")
    ]
    assert report.updated == len(sound)
    assert report.unchanged == 1  # the stale version: staged, but older than the warehouse's
    with engine.connect() as conn:
        row = (
            conn.execute(
                select(schema.core_posting).where(
                    schema.core_posting.c.platform_code == "liepin",
                    schema.core_posting.c.posting_id == _id(sound[0]),
                )
            )
            .mappings()
            .one()
        )
        versions = (
            conn.execute(
                select(schema.core_posting_version.c.title)
                .where(schema.core_posting_version.c.posting_id == _id(sound[0]))
                .order_by(schema.core_posting_version.c.modified_at)
            )
            .scalars()
            .all()
        )
        stale_row = conn.execute(
            select(schema.core_posting.c.title).where(schema.core_posting.c.posting_id == _id(stale))
        ).scalar_one()
    assert (
        row["title"].endswith("高级") and row["last_seen_at"] == later_until and row["first_seen_at"] == UNTIL
    )
    assert len(versions) == 1 and not versions[0].endswith("高级")  # the replaced version, kept
    assert stale_row != "旧版本的标题"


def _id(item):
    ident = item["identifier"]
    return ident["value"] if isinstance(ident, dict) else ident


def test_reposts_share_a_cluster_across_platforms(warehouse_url, simulator):
    engine = warehouse.engine(warehouse_url)
    jobs = defaultdict(set)
    for platform in config.platforms():
        truth = simulator.expected_postings(platform.code, SINCE, UNTIL)
        load.load(engine, platform, [e["item"] for e in truth], since=SINCE, until=UNTIL)
        for e in truth:
            if e["defect"] not in ("bad_credit_code", "missing_title"):
                jobs[e["job_key"]].add((platform.code, e["posting_id"]))
    with engine.connect() as conn:
        cluster_of = {
            (r.platform_code, r.posting_id): r.cluster_id
            for r in conn.execute(
                select(
                    schema.core_posting.c.platform_code,
                    schema.core_posting.c.posting_id,
                    schema.core_posting.c.cluster_id,
                )
            )
        }
    shared = [members for members in jobs.values() if len({p for p, _ in members}) > 1]
    assert shared, "the simulator shares jobs across platforms"
    together = sum(len({cluster_of[m] for m in members}) == 1 for members in shared)
    assert together / len(shared) >= 0.95
    # and distinct jobs are not merged
    job_of_cluster = defaultdict(set)
    for job, members in jobs.items():
        for m in members:
            job_of_cluster[cluster_of[m]].add(job)
    merged = sum(len(j) > 1 for j in job_of_cluster.values())
    assert merged / len(job_of_cluster) < 0.01
    rates = load.duplicate_rates(engine)
    assert set(rates) == {p.code for p in config.platforms()}
    assert all(0.05 < r["rate"] < 0.9 for r in rates.values())


def test_validation_is_recorded(warehouse_url, simulator):
    engine = warehouse.engine(warehouse_url)
    load.load(engine, config.platform("lagou"), _items(simulator, "lagou"), since=SINCE, until=UNTIL)
    assert _count(engine, schema.audit_quality_run, schema.audit_quality_run.c.suite == "job_posting") == 1
    assert _count(engine, schema.audit_load, schema.audit_load.c.subject == "lagou") == 1


def test_a_scheduled_pull_after_a_gap_starts_where_the_last_load_ended(warehouse_url, simulator):
    from recruitment_month.feeds import pipeline

    engine = warehouse.engine(warehouse_url)
    platform = config.platform("maimai")
    load.load(engine, platform, _items(simulator, "maimai"), since=SINCE, until=UNTIL)
    three_hours_later = (UNTIL + timedelta(hours=3), UNTIL + timedelta(hours=4))
    assert pipeline.watermark_since("maimai", *three_hours_later) == UNTIL
    # the next interval, and a rerun of the loaded interval, keep their own start
    assert pipeline.watermark_since("maimai", UNTIL, UNTIL + timedelta(hours=1)) == UNTIL
    assert pipeline.watermark_since("maimai", SINCE, UNTIL) == SINCE
    # a platform never loaded starts at its interval
    assert pipeline.watermark_since("kanzhun", *three_hours_later) == three_hours_later[0]

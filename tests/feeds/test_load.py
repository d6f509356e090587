"""Loading feed items: every simulator posting lands once, reruns change nothing, history is kept,
reposts share a cluster; on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from recruitment_devkit.feed_simulator import FeedSimulator
from recruitment_month import config, schema, warehouse
from recruitment_month.feeds import load
from recruitment_month.feeds.storage import PostgresStorage
from recruitment_month.settings import settings

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
    tables = (
        schema.core_posting,
        schema.core_posting_seen,
        schema.core_posting_version,
        schema.audit_feed_quarantine,
    )
    with engine.connect() as conn:
        return {t.name: sorted(tuple(r) for r in conn.execute(select(t)).all()) for t in tables}


def test_every_platforms_postings_land_once_and_only_postings_without_identity_are_quarantined(
    warehouse_url, simulator
):
    engine = warehouse.engine(warehouse_url)
    bad_codes = 0
    for platform in config.platforms():
        truth = simulator.expected_postings(platform.code, SINCE, UNTIL)
        report = load.load(engine, platform, [e["item"] for e in truth], since=SINCE, until=UNTIL)
        rejected = {e["posting_id"] for e in truth if e["defect"] == "missing_title"}
        # a posting whose only defect is its credit code is loaded, the code apart and flagged
        bad_code = {
            e["posting_id"]: e["truth"]["employer_credit_code"]
            for e in truth
            if e["defect"] == "bad_credit_code" and e["truth"]["employer_credit_code"]
        }
        bad_codes += len(bad_code)
        assert report.problems_by_rule.get("credit_code_invalid", 0) == len(bad_code)
        with engine.connect() as conn:
            kept_apart = {
                r.posting_id: r
                for r in conn.execute(
                    select(schema.core_posting).where(
                        schema.core_posting.c.platform_code == platform.code,
                        schema.core_posting.c.employer_credit_code_raw.is_not(None),
                    )
                )
            }
        assert {p: r.employer_credit_code_raw for p, r in kept_apart.items()} == bad_code
        assert all(r.employer_credit_code is None for r in kept_apart.values())
        assert all(json.loads(r.problems)[0]["rule"] == "credit_code_invalid" for r in kept_apart.values())
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
    assert bad_codes > 0


def test_rerunning_an_interval_changes_nothing(warehouse_url, simulator):
    engine = warehouse.engine(warehouse_url)
    platform = config.platform("zhilian")
    items = _items(simulator, "zhilian")
    first = load.load(engine, platform, items, since=SINCE, until=UNTIL)
    before = _snapshot(engine)
    again = load.load(engine, platform, items, since=SINCE, until=UNTIL)
    assert _snapshot(engine) == before
    assert (again.new, again.updated, again.unchanged) == (0, 0, first.new)


def test_a_platforms_first_load_only_adds_and_looks_nothing_up(warehouse_url, simulator):
    """The first load skips the statements and look-ups that only matter for postings already held (on
    PostgreSQL it copies straight into the core layer: no statement at all); a later load of the same
    items runs them."""
    from sqlalchemy import event

    engine = warehouse.engine(warehouse_url)
    platform = config.platform("zhilian")
    items = _items(simulator, "zhilian")
    statements: list[str] = []

    def record(statement, **_):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record, named=True)
    try:
        first = load.load(engine, platform, items, since=SINCE, until=UNTIL)
        on_first, statements[:] = list(statements), []
        again = load.load(engine, platform, items, since=SINCE, until=UNTIL + timedelta(hours=1))
    finally:
        event.remove(engine, "before_cursor_execute", record)

    def merges(executed):  # the merge's statements, less their comments
        code = ["\n".join(ln for ln in s.splitlines() if not ln.lstrip().startswith("--")) for s in executed]
        return [s.strip() for s in code if s.lstrip().startswith(("INSERT INTO core_", "UPDATE core_"))]

    if engine.dialect.name == "postgresql":
        assert merges(on_first) == []  # COPY into core_posting and core_posting_seen
    else:
        assert len(merges(on_first)) == 2  # the postings and when they were seen
        assert not any("NOT EXISTS" in s or s.startswith("UPDATE") for s in merges(on_first))
    inserts = [s for s in merges(statements) if s.startswith("INSERT")]
    assert sum("NOT EXISTS" in s for s in inserts) == 2
    assert first.new == again.unchanged > 0
    assert again.new == 0
    assert _count(engine, schema.core_posting_seen) == _count(engine, schema.core_posting) == first.new


@pytest.mark.parametrize(
    "empty_warehouse", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)  # the first load is copied on PostgreSQL only
@pytest.mark.parametrize("later", [False, True], ids=["first load", "after a later load"])
def test_a_first_load_copied_into_the_core_layer_equals_one_merged_from_staging(
    warehouse_url, simulator, later
):
    """PostgreSQL copies a platform's first load straight into the core layer: the warehouse ends as
    the merge from staging (what SQLite runs) leaves it, closed postings, first and last seen, item
    hashes and what a later load then does included."""
    engine = warehouse.engine(warehouse_url)
    platform = config.platform("liepin")
    items = _items(simulator, "liepin")
    changed = copy.deepcopy(items)
    for item in changed[::5]:
        item["title"] += "（更新）"
        item["dateModified"] = (datetime.fromisoformat(item["dateModified"]) + timedelta(hours=1)).isoformat()
    # The interval ends after some of the postings' valid_through: they are closed on arrival.
    until = UNTIL + timedelta(days=10)

    def run(copy_first: bool):
        target = PostgresStorage(engine, copy_first_load=copy_first)
        reports = [load.load(target, platform, items, since=SINCE, until=until).as_dict()]
        if later:
            reports.append(
                load.load(target, platform, changed, since=SINCE, until=until + timedelta(hours=1)).as_dict()
            )
        snapshot = _snapshot(engine)
        with engine.begin() as conn:
            for table in schema.metadata.sorted_tables:
                if table.name in snapshot or table.name.startswith("stg_"):
                    conn.execute(table.delete())
        return reports, snapshot

    copied, merged = run(True), run(False)
    assert copied == merged
    postings = copied[1]["core_posting"]
    closed_at = [c.name for c in schema.core_posting.columns].index("closed_at")
    assert 0 < sum(r[closed_at] is not None for r in postings) < len(postings)
    assert len(copied[1]["core_posting_seen"]) == len(postings)
    if later:
        assert copied[0][1]["updated"] > 0
        assert copied[1]["core_posting_version"]


def _seen(engine, code):
    t = schema.core_posting_seen
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.c.posting_id, t.c.first_seen_at, t.c.last_seen_at).where(t.c.platform_code == code)
        )
        return {r.posting_id: (r.first_seen_at, r.last_seen_at) for r in rows}


def test_items_delivered_again_unchanged_are_not_normalised_again(warehouse_url, simulator, monkeypatch):
    """An item identical to the one delivered last only moves when the posting was seen; a changed item
    among them is merged as usual; the warehouse ends as if every item had been normalised again."""
    from recruitment_month.feeds import normalise

    engine = warehouse.engine(warehouse_url)
    platform = config.platform("zhilian")
    items = _items(simulator, "zhilian")
    first = load.load(engine, platform, items, since=SINCE, until=UNTIL)
    postings = _snapshot(engine)["core_posting"]
    changed = copy.deepcopy(items)
    target = next(i for i in changed if simulator.defect("zhilian", _id(i)) is None)
    target["title"] += "（更新）"
    target["dateModified"] = "2022-11-20T00:00:00+00:00"
    calls = []
    real = normalise.normalise
    monkeypatch.setattr(normalise, "normalise", lambda item, p: calls.append(item) or real(item, p))
    later = UNTIL + timedelta(days=7)
    again = load.load(engine, platform, changed, since=UNTIL, until=later)

    # Only the changed item and the quarantined ones (never stored) are normalised again.
    assert len(calls) == 1 + first.quarantined
    assert again.identical == first.new - 1
    assert (again.new, again.updated, again.unchanged) == (0, 1, first.new - 1)
    assert again.quarantined == first.quarantined
    seen = _seen(engine, "zhilian")
    assert len(seen) == first.new
    assert set(seen.values()) == {(UNTIL, later)}
    now = _snapshot(engine)
    assert len(now["core_posting_version"]) == 1
    # The changed posting, and those whose valid_through passed by the later interval's end: closed.
    names = list(schema.core_posting.c.keys())
    differ = {r[names.index("posting_id")]: r for r in now["core_posting"] if r not in postings}
    assert _id(target) in differ
    closed = names.index("closed_at")
    assert all(r[closed] is not None for k, r in differ.items() if k != _id(target))


def test_items_as_json_texts_load_as_the_parsed_items(warehouse_url, simulator):
    """The load task gets each item as its JSON text: the same item parsed or as text (written another
    way) makes the same posting; the same text again is recognised as identical; text that is no JSON
    object is quarantined with the text kept."""
    import msgspec

    engine = warehouse.engine(warehouse_url)
    platform = config.platform("zhilian")
    items = _items(simulator, "zhilian")
    first = load.load(engine, platform, items, since=SINCE, until=UNTIL)
    before = _snapshot(engine)
    texts = [msgspec.Raw(json.dumps(i, ensure_ascii=False, indent=1).encode()) for i in items]
    again = load.load(engine, platform, texts, since=SINCE, until=UNTIL)
    # Written another way, the items are normalised again, to the same postings; the texts are now the
    # items to recognise.
    assert (again.identical, again.unchanged) == (0, first.new)
    assert again.quarantined == first.quarantined
    after = _snapshot(engine)
    hashes = [c.name for c in schema.core_posting_seen.columns].index("item_hash")
    assert {k: v for k, v in after.items() if k != "core_posting_seen"} == {
        k: v for k, v in before.items() if k != "core_posting_seen"
    }
    assert [r[:hashes] for r in after["core_posting_seen"]] == [
        r[:hashes] for r in before["core_posting_seen"]
    ]
    third = load.load(engine, platform, texts, since=SINCE, until=UNTIL)
    assert third.identical == third.unchanged == first.new
    assert _snapshot(engine) == after

    odd = load.load(
        engine, platform, [b"not json", b"[1, 2]", b'"text"'], since=UNTIL, until=UNTIL + timedelta(hours=1)
    )
    assert odd.quarantine_by_rule == {"item_invalid": 3}
    with engine.connect() as conn:
        kept = (
            conn.execute(
                select(schema.audit_feed_quarantine.c.raw)
                .where(schema.audit_feed_quarantine.c.load_id == odd.load_id)
                .order_by(schema.audit_feed_quarantine.c.seq)
            )
            .scalars()
            .all()
        )
    assert [json.loads(k) for k in kept] == ["not json", [1, 2], "text"]


def test_a_change_of_the_rules_normalises_every_item_again(warehouse_url, simulator):
    """The item hash covers the platform's configuration (and the normalising code), so after a change
    identical items are normalised again rather than recognised."""
    engine = warehouse.engine(warehouse_url)
    platform = config.platform("zhilian")
    items = _items(simulator, "zhilian")
    first = load.load(engine, platform, items, since=SINCE, until=UNTIL)
    same = load.load(engine, platform, items, since=SINCE, until=UNTIL)
    assert same.identical == first.new
    renamed = platform.model_copy(update={"name": platform.name + "（新）"})
    again = load.load(engine, renamed, items, since=SINCE, until=UNTIL)
    assert again.identical == 0
    assert (again.new, again.updated, again.unchanged) == (0, 0, first.new)
    assert load.load(engine, renamed, items, since=SINCE, until=UNTIL).identical == first.new


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
    sound = [i for i in changed if simulator.defect("liepin", _id(i)) != "missing_title"]
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
        seen = (
            conn.execute(
                select(schema.core_posting_seen).where(
                    schema.core_posting_seen.c.platform_code == "liepin",
                    schema.core_posting_seen.c.posting_id == _id(sound[0]),
                )
            )
            .mappings()
            .one()
        )
    assert row["title"].endswith("高级")
    assert seen["last_seen_at"] == later_until
    assert seen["first_seen_at"] == UNTIL
    assert len(versions) == 1
    assert not versions[0].endswith("高级")  # the replaced version, kept
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


def test_two_intervals_of_a_platform_loading_at_once_merge_one_after_the_other(warehouse_url, simulator):
    """Backfilled intervals of one platform may load side by side: their merges take turns (the second
    finds the first's postings), so nothing fails and nothing is loaded twice."""
    from concurrent.futures import ThreadPoolExecutor

    engine = warehouse.engine(warehouse_url)
    platform = config.platform("zhilian")
    items = _items(simulator, "zhilian")
    later = UNTIL + timedelta(days=1)
    with ThreadPoolExecutor(max_workers=2) as pool:
        jobs = [
            pool.submit(load.load, engine, platform, items, since=SINCE, until=UNTIL),
            pool.submit(load.load, engine, platform, items, since=UNTIL, until=later),
        ]
        reports = [job.result() for job in jobs]
    assert sorted(r.new for r in reports) == [0, reports[0].new + reports[1].new]
    seen = _seen(engine, "zhilian")
    assert len(seen) == max(r.new for r in reports)
    assert set(seen.values()) == {(UNTIL, later)}
    assert _count(engine, schema.core_posting) == len(seen)


def test_rerunning_an_earlier_interval_after_a_later_one_changes_nothing(warehouse_url, simulator):
    """Interval 1 delivers a version, interval 2 a newer one; rerunning interval 1 (older items, whose
    hashes now differ from the last delivered) and then interval 2 again leaves the warehouse as it was."""
    engine = warehouse.engine(warehouse_url)
    platform = config.platform("zhilian")
    items = _items(simulator, "zhilian")
    newer = copy.deepcopy(items)
    for item in newer[:20]:
        item["title"] = item.get("title", "") + "（新版）"
        item["dateModified"] = "2022-11-20T00:00:00+00:00"
    later = UNTIL + timedelta(days=7)
    load.load(engine, platform, items, since=SINCE, until=UNTIL)
    load.load(engine, platform, newer, since=UNTIL, until=later)
    before = _snapshot(engine)
    first = load.load(engine, platform, items, since=SINCE, until=UNTIL)
    again = load.load(engine, platform, newer, since=UNTIL, until=later)
    after = _snapshot(engine)
    assert after == before
    assert (first.new, first.updated) == (0, 0)
    assert (again.new, again.updated) == (0, 0)


def test_postings_close_once_valid_through_has_passed(warehouse_url, simulator):
    """A posting is closed (closed_at = valid_through) by the first load whose interval ends after its
    valid_through: the platform's first load, or a later one that closes what was open."""
    engine = warehouse.engine(warehouse_url)
    p = schema.core_posting

    def state(code):
        with engine.connect() as conn:
            rows = conn.execute(select(p.c.valid_through, p.c.closed_at).where(p.c.platform_code == code))
            return [(r.valid_through, r.closed_at) for r in rows]

    # the first load of a platform, its interval ending after every valid_through: all closed
    far = datetime(2024, 1, 1, tzinfo=UTC)
    load.load(engine, config.platform("liepin"), _items(simulator, "liepin"), since=SINCE, until=far)
    rows = state("liepin")
    assert rows
    assert all(closed == valid for valid, closed in rows)

    # a first load ending before them leaves them open; a later load (no items) closes the passed ones
    load.load(engine, config.platform("zhilian"), _items(simulator, "zhilian"), since=SINCE, until=UNTIL)
    assert all(closed is None for valid, closed in state("zhilian") if valid > UNTIL)
    cut = sorted(valid for valid, _ in state("zhilian"))[len(state("zhilian")) // 2]
    load.load(engine, config.platform("zhilian"), [], since=UNTIL, until=cut)
    assert all((closed is not None) == (valid <= cut) for valid, closed in state("zhilian"))


def test_a_first_load_without_items_stores_nothing_and_the_next_one_is_still_a_first(
    warehouse_url, simulator
):
    """An interval in which a new platform published nothing: the load reports zeros and records the
    run; the platform still holds nothing, so its next load lands every posting as its first."""
    engine = warehouse.engine(warehouse_url)
    platform = config.platform("lagou")
    empty = load.load(engine, platform, [], since=SINCE - timedelta(hours=1), until=SINCE)
    assert (empty.received, empty.staged, empty.new, empty.quarantined) == (0, 0, 0, 0)
    assert _count(engine, schema.core_posting) == _count(engine, schema.core_posting_seen) == 0
    assert _count(engine, schema.audit_load, schema.audit_load.c.subject == "lagou") == 1
    report = load.load(engine, platform, _items(simulator, "lagou"), since=SINCE, until=UNTIL)
    assert report.new == report.staged > 0
    assert _count(engine, schema.core_posting) == _count(engine, schema.core_posting_seen) == report.new


def test_every_merge_file_is_a_step_in_its_order_and_every_step_a_file():
    """The merge runs the files the code names, in order: a file added without its step (or a step
    without its file) is caught here, not by a load that skips it."""
    merge = sorted(path.stem for path in (settings().sql_dir / "merge").glob("*.sql"))
    first = sorted(path.stem for path in (settings().sql_dir / "first_load").glob("*.sql"))
    assert merge == list(load.MERGE_STEPS)
    assert first == list(load.FIRST_LOAD_STEPS)
    assert load.merge_steps(first=False) == [f"merge/{name}" for name in merge]

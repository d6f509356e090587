"""Job feeds against faults of one posting, one server and the warehouse: every test runs the real feed
simulator over HTTP (its switchable faults) into the real warehouse (SQLite and PostgreSQL)."""

from __future__ import annotations

import email
import email.policy
import json
import threading
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from recruitment_devkit.feed_simulator import FeedSimulator
from recruitment_month import config, schema, warehouse
from recruitment_month.feeds import client, linkage, load
from recruitment_month.text import has_control

SINCE, UNTIL = datetime(2022, 11, 1, tzinfo=UTC), datetime(2022, 11, 20, tzinfo=UTC)
TEXT_COLUMNS = (
    "posting_id",
    "title",
    "employer_name",
    "city",
    "url",
    "description",
    "employer_credit_code_raw",
)


@pytest.fixture(scope="module")
def sim():
    with FeedSimulator(postings_per_platform=400, seed=11) as simulator:
        yield simulator


@pytest.fixture
def fresh(sim):
    sim.clear_faults()
    yield sim
    sim.clear_faults()


def _platform(code: str, **changes) -> config.Platform:
    platform = config.platform(code)
    limits = changes.pop("limits", None)
    if limits:
        changes["limits"] = platform.limits.model_copy(update=limits)
    return platform.model_copy(update={"page_size": 50, **changes})


def _extract(sim, platform, raw_dir, **options) -> client.ExtractResult:
    settings = client.ClientSettings.for_platform(
        platform,
        base_url=sim.base_url(platform.code),
        token=sim.token,
        timeout=options.pop("timeout", (3, 5)),
        backoff_factor=0.05,
        backoff_max=0.2,
        rate_limit=0,
        **options,
    )
    return client.extract(settings, SINCE, UNTIL, raw_dir)


def _postings(engine, code: str) -> dict[str, dict]:
    with engine.connect() as conn:
        rows = conn.execute(select(schema.core_posting).where(schema.core_posting.c.platform_code == code))
        return {r.posting_id: dict(r._mapping) for r in rows}


# ----------------------------------------------------------------------------------- one posting


@pytest.mark.parametrize("code", ["zhilian", "tongcheng58"])  # JSON-LD and the flat shape
def test_control_characters_in_postings_are_removed_and_the_load_succeeds(
    warehouse_url, fresh, tmp_path, code
):
    platform = _platform(code)
    fresh.set_fault(code, "control_characters", every=7)
    result = _extract(fresh, platform, tmp_path)
    engine = warehouse.engine(warehouse_url)
    report = load.load(engine, platform, result.iter_item_texts(), since=SINCE, until=UNTIL)

    truth = fresh.expected_postings(code, SINCE, UNTIL)
    no_title = {e["posting_id"] for e in truth if e["defect"] == "missing_title"}
    stored = _postings(engine, code)
    assert set(stored) == {e["posting_id"] for e in truth} - no_title  # the rest of the load unaffected
    assert report.quarantined == len(no_title)
    dirty = {e["posting_id"] for n, e in enumerate(truth) if int(e["posting_id"][2:]) % 7 == 0}
    assert dirty
    assert dirty & set(stored)
    for posting_id, row in stored.items():
        assert not any(row[c] and has_control(row[c]) for c in TEXT_COLUMNS), row
        rules = [p["rule"] for p in json.loads(row["problems"] or "[]")]
        assert ("control_characters" in rules) == (posting_id in dirty), (posting_id, rules)
    sample = next(iter(dirty & set(stored)))
    clean = next(e for e in truth if e["posting_id"] == sample)
    assert stored[sample]["title"] == " ".join(
        clean["item"][platform.field_map["title"] if platform.field_map else "title"].split()
    )
    # rerun: nothing changes
    before = _postings(engine, code)
    load.load(engine, platform, result.iter_item_texts(), since=SINCE, until=UNTIL)
    assert _postings(engine, code) == before


def test_a_feed_of_bad_credit_codes_is_loaded_with_the_codes_apart(warehouse_url, fresh, tmp_path):
    code = "zhilian"
    platform = _platform(code)
    fresh.set_fault(code, "bad_credit_codes")
    result = _extract(fresh, platform, tmp_path)
    engine = warehouse.engine(warehouse_url)
    report = load.load(engine, platform, result.iter_item_texts(), since=SINCE, until=UNTIL)

    truth = fresh.expected_postings(code, SINCE, UNTIL)
    with_code = {
        e["posting_id"]
        for e in truth
        if e["truth"]["employer_credit_code"] and e["defect"] != "missing_title"
    }
    stored = _postings(engine, code)
    assert report.quarantined == sum(e["defect"] == "missing_title" for e in truth)
    assert report.new == len(stored) == len(truth) - report.quarantined  # loaded and counted
    assert report.problems_by_rule["credit_code_invalid"] == len(with_code) > report.received / 2
    for posting_id in with_code:
        row = stored[posting_id]
        assert row["employer_credit_code"] is None
        assert row["employer_credit_code_raw"]
        assert len(row["employer_credit_code_raw"]) == 18
        assert "credit_code_invalid" in row["problems"]
    first_id, first_code = report.samples["credit_code_invalid"][0]
    assert stored[first_id]["employer_credit_code_raw"] == first_code
    # one alert to the engineers, written with the load: it names the rule and a sample, guessing nothing
    with engine.connect() as conn:
        (alert,) = conn.execute(
            select(schema.audit_notification).where(schema.audit_notification.c.kind == "feed_defect")
        ).mappings()
    assert "credit_code_invalid" in alert["subject"]
    assert alert["status"] == "pending"
    text = email.message_from_bytes(alert["body"], policy=email.policy.default).get_content()
    assert f"{first_id}={first_code!r}" in text
    assert "renamed" not in text
    load.load(engine, platform, result.iter_item_texts(), since=SINCE, until=UNTIL)  # a rerun
    with engine.connect() as conn:
        kinds = conn.execute(select(schema.audit_notification.c.kind)).scalars().all()
    assert kinds == ["feed_defect"]
    # not used for linking
    linkage.link(engine, None)
    with engine.connect() as conn:
        linked = conn.execute(
            select(schema.core_posting_link.c.employer_credit_code).where(
                schema.core_posting_link.c.platform_code == code
            )
        ).scalars()
        assert set(linked) == {None}


@pytest.mark.parametrize(("unit", "flagged"), [("YEAR", False), ("MONTH", True)])
def test_a_bare_salary_is_read_in_the_platforms_unit(warehouse_url, fresh, tmp_path, unit, flagged):
    """baseSalary as a bare yearly number: configured YEAR, it is the monthly pay; left MONTH, the
    monthly amounts above the plausible maximum are flagged (kept out of salary figures)."""
    code = "zhilian"
    platform = _platform(code, salary_unit=unit, limits={"salary_monthly_max": 60_000})
    fresh.set_fault(code, "bare_salary", unit="YEAR")
    result = _extract(fresh, platform, tmp_path)
    engine = warehouse.engine(warehouse_url)
    load.load(engine, platform, result.iter_item_texts(), since=SINCE, until=UNTIL)
    stored = _postings(engine, code)
    bare = [
        e
        for e in fresh.expected_postings(code, SINCE, UNTIL)
        if e["truth"]["salary_unit"] == "MONTH"
        and e["truth"]["salary_min"]
        and e["defect"] != "missing_title"
    ]
    assert len(bare) > 20
    for e in bare:
        row = stored[e["posting_id"]]
        monthly = e["truth"]["salary_min"]
        if unit == "YEAR":
            assert (row["salary_min"], row["salary_max"], row["salary_flagged"]) == (monthly, monthly, False)
        else:
            assert row["salary_min"] == monthly * 12
            assert row["salary_flagged"] == (monthly * 12 > 60_000)
    assert any(stored[e["posting_id"]]["salary_flagged"] for e in bare) == flagged


# ----------------------------------------------------------------------------------- one server


def _no_raw_left(raw_dir: Path) -> None:
    """No landed pages, and no half-written file either."""
    assert [p.name for p in raw_dir.rglob("*") if p.is_file() and ".jsonl" in p.name] == []


def test_a_gzip_bomb_is_refused_with_memory_bounded(fresh, tmp_path):
    code = "zhilian"
    inflated = 200 * 2**20
    platform = _platform(code, limits={"max_page_bytes": 2**20, "max_page_inflated_bytes": 4 * 2**20})
    fresh.set_fault(code, "gzip_bomb", times=1, inflated_bytes=inflated)
    tracemalloc.start()
    try:
        with pytest.raises(client.FeedLimitError) as failed:
            _extract(fresh, platform, tmp_path, body_attempts=1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert failed.value.limit == "max_page_inflated_bytes"
    assert str(failed.value).startswith(f"{code}: ")
    assert "4,194,304" in str(failed.value)
    assert peak < 12 * 2**20, f"{peak:,} bytes at peak for a page that inflates to {inflated:,}"
    _no_raw_left(tmp_path)


def test_a_page_over_the_received_limit_is_refused(fresh, tmp_path):
    platform = _platform("zhilian", limits={"max_page_bytes": 20_000, "max_page_inflated_bytes": 40_000})
    with pytest.raises(client.FeedLimitError, match=r"^zhilian: .*max_page_bytes") as failed:
        _extract(fresh, platform, tmp_path)
    assert failed.value.limit == "max_page_bytes"
    _no_raw_left(tmp_path)


def _within(seconds: float, work):
    """Run ``work`` in a thread; (finished in time, what it raised or answered)."""
    outcome: dict = {}

    def run():
        try:
            outcome["value"] = work()
        except BaseException as exc:  # handed to the test
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(seconds)
    return not thread.is_alive(), outcome, time.monotonic() - started


def test_a_dripping_server_is_given_up_at_the_request_deadline(fresh, tmp_path):
    """One byte every 0.3 s: every read is well inside the 5 s read timeout, the answer never ends."""
    code = "zhilian"
    platform = _platform(code, limits={"request_deadline_seconds": 2})
    fresh.set_fault(code, "drip", times=1, interval=0.3)
    finished, outcome, took = _within(30, lambda: _extract(fresh, platform, tmp_path, timeout=(3, 5)))
    assert finished, "the request outlived its deadline"
    error = outcome.get("error")
    assert isinstance(error, client.FeedLimitError), outcome
    assert error.limit == "request_deadline_seconds"
    assert error.platform_code == code
    assert took < 10
    _no_raw_left(tmp_path)


def test_an_endless_cursor_chain_fails_at_the_budget_and_the_next_run_misses_nothing(
    warehouse_url, fresh, tmp_path
):
    code = "zhilian"
    platform = _platform(code, limits={"extraction_budget_seconds": 2})
    fresh.set_fault(code, "endless_cursor")
    finished, outcome, took = _within(60, lambda: _extract(fresh, platform, tmp_path))
    assert finished, "the extraction outlived its budget"
    error = outcome.get("error")
    assert isinstance(error, client.FeedLimitError), outcome
    assert error.limit == "extraction_budget_seconds"
    assert "pulls it again" in str(error)
    assert took < 10
    _no_raw_left(tmp_path)  # nothing half-written, nothing that looks landed
    # the next run pulls the same window again: every posting arrives
    fresh.clear_faults()
    result = _extract(fresh, platform, tmp_path)
    engine = warehouse.engine(warehouse_url)
    load.load(engine, platform, result.iter_item_texts(), since=SINCE, until=UNTIL)
    truth = fresh.expected_postings(code, SINCE, UNTIL)
    assert set(_postings(engine, code)) == {e["posting_id"] for e in truth if e["defect"] != "missing_title"}


# ----------------------------------------------------------------------------------- the warehouse

MID = datetime(2022, 11, 10, tzinfo=UTC)
_KEPT = (
    schema.core_posting,
    schema.core_posting_seen,
    schema.core_posting_version,
    schema.audit_feed_quarantine,
    schema.stg_posting,
    schema.stg_posting_seen,
)


def _state(engine) -> dict:
    with engine.connect() as conn:
        state = {t.name: sorted(map(tuple, conn.execute(select(t)).all())) for t in _KEPT}
        loads = conn.execute(select(schema.audit_load.c.load_key, schema.audit_load.c.counts)).all()
    state["audit_load"] = sorted((key, json.dumps(counts, sort_keys=True)) for key, counts in loads)
    return state


class _Cut:
    """Terminates the load's own PostgreSQL backend, from another connection, when the load sends the
    first statement that ``trigger`` recognises: the warehouse connection lost in the middle of a load."""

    def __init__(self, engine, trigger):
        self.engine, self.trigger, self.fired = engine, trigger, 0

    def __call__(self, conn, statement, **_):
        import psycopg

        if self.fired or not self.trigger(statement):
            return
        self.fired += 1
        pid = conn.connection.driver_connection.info.backend_pid
        with psycopg.connect(
            self.engine.url.render_as_string(hide_password=False).replace("+psycopg", "")
        ) as other:
            other.execute("SELECT pg_terminate_backend(%s)", (pid,))

    def __enter__(self):
        from sqlalchemy import event

        event.listen(self.engine, "before_cursor_execute", self, named=True)
        return self

    def __exit__(self, *exc):
        from sqlalchemy import event

        event.remove(self.engine, "before_cursor_execute", self)


@pytest.fixture
def second_postgres_schema():
    """Another fresh PostgreSQL schema (for the reference warehouse), dropped afterwards."""
    import secrets

    import psycopg

    name = f"t_{secrets.token_hex(6)}"
    dsn = "postgresql://postgres@127.0.0.1:5432/test"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{name}"
    warehouse.migrate(url)
    warehouse.load_reference_data(url)
    yield url
    warehouse.engine(url).dispose()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.mark.parametrize("empty_warehouse", ["postgres"], indirect=True)
def test_a_load_that_loses_its_warehouse_connection_leaves_nothing_and_its_rerun_completes(
    warehouse_url, second_postgres_schema, fresh, tmp_path
):
    code = "zhilian"
    platform = _platform(code)
    fresh.set_fault(code, "bad_credit_codes")  # postings with problems recorded, too
    settings = client.ClientSettings.for_platform(
        platform, base_url=fresh.base_url(code), token=fresh.token, rate_limit=0
    )
    first = client.extract(settings, SINCE, MID, tmp_path)
    fresh.set_fault(code, "control_characters", every=5)
    second = _extract(fresh, platform, tmp_path)
    loads = [(first, SINCE, MID), (second, SINCE, UNTIL)]

    engine = warehouse.engine(warehouse_url)
    triggers = [
        # a platform's first load: after its COPY into core_posting and core_posting_seen
        lambda sql: sql.startswith("DELETE FROM audit_feed_quarantine"),
        # a later load: staged, history written, cut before the postings are updated
        lambda sql: "UPDATE core_posting AS c" in sql,
    ]
    for (result, since, until), trigger in zip(loads, triggers, strict=True):
        before = _state(engine)
        with _Cut(engine, trigger) as cut, pytest.raises(Exception, match=r"terminat|closed|connection"):
            load.load(engine, platform, result.iter_item_texts(), since=since, until=until)
        assert cut.fired == 1
        assert _state(engine) == before  # nothing half written
        load.load(engine, platform, result.iter_item_texts(), since=since, until=until)  # the retry
    after_retries = _state(engine)
    assert after_retries["core_posting"]

    reference = warehouse.engine(second_postgres_schema)
    for result, since, until in loads:
        load.load(reference, platform, result.iter_item_texts(), since=since, until=until)
    assert after_retries == _state(reference)  # as a clean run of the same loads

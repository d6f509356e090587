"""Job feeds against faults of one posting, one server and the warehouse: every test runs the real feed
simulator over HTTP (its switchable faults) into the real warehouse (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from recruitment_month import config, schema, warehouse
from recruitment_month.feeds import client, linkage, load
from recruitment_month.feeds.simulator import FeedSimulator
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
    return client.extract(
        platform,
        SINCE,
        UNTIL,
        base_url=sim.base_url(platform.code),
        token=sim.token,
        raw_dir=raw_dir,
        timeout=options.pop("timeout", (3, 5)),
        backoff_factor=0.05,
        backoff_max=0.2,
        rate_limit=0,
        **options,
    )


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
    assert dirty and dirty & set(stored)
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


def test_a_feed_of_bad_credit_codes_is_loaded_with_the_codes_apart(warehouse_url, fresh, tmp_path, caplog):
    code = "zhilian"
    platform = _platform(code)
    fresh.set_fault(code, "bad_credit_codes")
    result = _extract(fresh, platform, tmp_path)
    engine = warehouse.engine(warehouse_url)
    with caplog.at_level(logging.WARNING, logger="recruitment_month.feeds.load"):
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
        assert row["employer_credit_code_raw"] and len(row["employer_credit_code_raw"]) == 18
        assert "credit_code_invalid" in row["problems"]
    # the warning names the rule and shows postings and their codes, and guesses nothing
    warned = [r.getMessage() for r in caplog.records if "credit_code_invalid" in r.getMessage()]
    assert warned and "renamed" not in warned[0]
    first_id, first_code = report.samples["credit_code_invalid"][0]
    assert f"{first_id}={first_code!r}" in warned[0]
    assert stored[first_id]["employer_credit_code_raw"] == first_code
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

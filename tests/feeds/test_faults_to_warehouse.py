"""Every fault a platform can throw ends with exactly the simulator's postings in the warehouse:
none lost, none twice (extract → land → load, against the real simulator and both databases)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from recruitment_devkit.feed_simulator import FeedSimulator
from recruitment_month import config, schema, warehouse
from recruitment_month.feeds import client, load

SINCE, UNTIL = datetime(2022, 11, 1, tzinfo=UTC), datetime(2022, 11, 20, tzinfo=UTC)
FAULTS = [
    ("http_500", {"times": 2}),
    ("rate_limit_429", {"times": 1, "retry_after": 1}),
    ("timeout", {"times": 1, "seconds": 1.5}),
    ("repeat_page", {"page": 1}),
    ("repeat_posting", {"page": 1}),
    ("truncated_body", {"times": 2}),
    ("truncated_body", {"times": 1, "mode": "reset"}),
    ("html_error_200", {"times": 2}),
    ("renamed_field", {}),
]


@pytest.fixture(scope="module")
def sim():
    with FeedSimulator(postings_per_platform=400, seed=5) as simulator:
        yield simulator


@pytest.mark.parametrize("code", ["zhilian", "tongcheng58"])  # JSON-LD and the flat shape
@pytest.mark.parametrize("case", FAULTS, ids=lambda case: case[0])
def test_every_fault_ends_with_exactly_the_simulators_postings(warehouse_url, sim, tmp_path, code, case):
    fault, options = case
    platform = config.platform(code).model_copy(update={"page_size": 50})
    sim.clear_faults()
    sim.set_fault(code, fault, **options)
    settings = client.ClientSettings.for_platform(
        platform,
        base_url=sim.base_url(code),
        token=sim.token,
        timeout=(3, 1.0),
        backoff_factor=0.05,
        backoff_max=0.5,
        rate_limit=0,
    )
    result = client.extract(settings, SINCE, UNTIL, tmp_path)
    sim.clear_faults()
    engine = warehouse.engine(warehouse_url)
    truth = sim.expected_postings(code, SINCE, UNTIL)
    if fault == "renamed_field" and platform.adapter == "flat":
        # A flat feed's renamed field cannot be guessed: every posting is quarantined with the reason,
        # none is lost, and the load fails so that the engineers fix the field map.
        with pytest.raises(load.FeedShapeError, match="field_map") as failed:
            load.load(engine, platform, result.iter_items(), since=SINCE, until=UNTIL)
        with engine.connect() as conn:
            rows = conn.execute(
                select(schema.audit_feed_quarantine.c.posting_id, schema.audit_feed_quarantine.c.rule)
            ).all()
        assert {p for p, _ in rows} == {e["posting_id"] for e in truth}
        assert {r for _, r in rows} >= {"missing_field"}
        # the error names the rule and shows postings that break it, not a guess
        assert "by the rule missing_field (e.g. " in str(failed.value)
        assert truth[0]["posting_id"] in str(failed.value)
        return
    report = load.load(engine, platform, result.iter_items(), since=SINCE, until=UNTIL)
    quarantined = {e["posting_id"] for e in truth if e["defect"] == "missing_title"}
    with engine.connect() as conn:
        loaded = (
            conn.execute(
                select(schema.core_posting.c.posting_id).where(schema.core_posting.c.platform_code == code)
            )
            .scalars()
            .all()
        )
    assert len(loaded) == len(set(loaded))  # none twice
    assert set(loaded) == {e["posting_id"] for e in truth} - quarantined  # none lost
    assert report.quarantined == len(quarantined)

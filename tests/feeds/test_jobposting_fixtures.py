"""schema.org JobPosting items in the shapes job boards publish (tests/fixtures/jobposting/), each
normalised and compared field by field with the canonical posting in its ``*.expected.json``.

The items follow the schema.org and Google Search Central JobPosting examples, adapted to Chinese
postings: ``identifier`` as a PropertyValue, ``hiringOrganization`` with ``sameAs`` and ``logo``,
``jobLocation`` as an array of Places, ``employmentType`` as an array, a yearly or hourly
``baseSalary``, a ``validThrough`` without an offset, HTML in ``description``."""

import json
from datetime import date, datetime
from pathlib import Path

import pytest

from recruitment_month import config
from recruitment_month.feeds.normalise import canonical_columns, normalise

FIXTURES = Path(__file__).parent.parent / "fixtures" / "jobposting"
ITEMS = sorted(p for p in FIXTURES.glob("*.json") if not p.name.endswith(".expected.json"))


def _json_value(value):
    return value.isoformat() if isinstance(value, date | datetime) else value


def test_every_item_has_its_expected_posting():
    assert len(ITEMS) >= 3
    for item in ITEMS:
        assert item.with_name(item.stem + ".expected.json").is_file(), item.name


@pytest.mark.parametrize("item_path", ITEMS, ids=lambda p: p.stem)
def test_fixture_normalises_to_its_expected_posting(item_path):
    expected = json.loads(item_path.with_name(item_path.stem + ".expected.json").read_text(encoding="utf-8"))
    item = json.loads(item_path.read_text(encoding="utf-8"))
    posting, problems = normalise(item, config.platform("zhilian"))
    assert [(p.rule, str(p.severity), p.field) for p in problems] == [
        (p["rule"], p["severity"], p["field"]) for p in expected["problems"]
    ]
    assert posting is not None
    assert list(expected["posting"]) == list(canonical_columns)
    for column in canonical_columns:
        assert _json_value(posting[column]) == expected["posting"][column], column

"""One identifier parser: the key the extraction de-duplicates by is the posting_id the load stores, for
every shape of schema.org's JobPosting.identifier (and a flat feed's id field), over real HTTP and on
SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from recruitment_devkit.feed_simulator import FeedSimulator
from recruitment_month import config, schema, warehouse
from recruitment_month.feeds import client, identity, load, normalise

SINCE = datetime(2022, 11, 1, tzinfo=UTC)
UNTIL = datetime(2022, 11, 15, tzinfo=UTC)

# (identifier as a feed writes it, the posting_id it gives)
SHAPES = [
    ("ZL-1", "ZL-1"),
    ("  ZL-2\t", "ZL-2"),
    (40213, "40213"),
    (40214.0, "40214"),
    (40215.5, "40215.5"),
    ({"@type": "PropertyValue", "name": "职位编号", "value": "ZL-3"}, "ZL-3"),
    ({"@type": "PropertyValue", "value": 40216}, "40216"),
    ({"@value": "ZL-4"}, "ZL-4"),
    ({"@type": "PropertyValue", "propertyID": "ZL-5", "name": "职位编号"}, "ZL-5"),
    ({"@type": "PropertyValue", "value": None, "propertyID": "ZL-6"}, "ZL-6"),
    ([None, "", "ZL-7"], "ZL-7"),
    ([{"@type": "PropertyValue", "value": "ZL-8"}, "ZL-other"], "ZL-8"),
    ("ZL-\x079", "ZL-9"),
    ({"@type": "PropertyValue", "value": "ZL-\x0010"}, "ZL-10"),
]
NO_ID = [None, "", "   ", True, [], {}, {"@type": "PropertyValue", "name": "职位编号"}, {"value": ""}]


@pytest.mark.parametrize(("written", "expected"), SHAPES, ids=repr)
def test_every_identifier_shape_gives_its_posting_id(written, expected):
    assert identity.posting_id(written) == expected
    assert identity.item_posting_id({"identifier": written}, ("identifier",)) == expected


@pytest.mark.parametrize("written", NO_ID, ids=repr)
def test_an_identifier_without_an_id_gives_none(written):
    assert identity.posting_id(written) is None


def test_a_flat_feeds_id_falls_back_to_the_canonical_name_only_when_its_field_is_missing():
    keys = identity.id_keys(config.platform("tongcheng58"))
    assert keys == ("job_id", "posting_id")
    assert identity.item_posting_id({"job_id": 17, "posting_id": "other"}, keys) == "17"
    assert identity.item_posting_id({"posting_id": " 18 "}, keys) == "18"
    assert identity.item_posting_id({"job_id": "", "posting_id": "19"}, keys) is None


class _Feed:
    """Serves ``pages`` (a list of item lists) as the feed API, one page per cursor."""

    def __init__(self, pages: list[list[dict]]):
        bodies = [
            json.dumps({"data": items, "next_cursor": str(n + 1) if n + 1 < len(pages) else None}).encode()
            for n, items in enumerate(pages)
        ]

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                body = bodies[int(parse_qs(urlsplit(self.path).query).get("cursor", ["0"])[-1])]
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        return f"http://127.0.0.1:{self.server.server_address[1]}/feed"

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def _clean_items(code: str, count: int) -> list[dict]:
    sim = FeedSimulator(postings_per_platform=400, seed=11)
    items = [e["item"] for e in sim.expected_postings(code, SINCE, UNTIL) if not e["defect"]]
    assert len(items) >= count
    return items[:count]


def _later(item: dict, key: str) -> dict:
    """The same posting, a day later, with a new title (the version the load must keep)."""
    again = copy.deepcopy(item)
    moment = datetime.fromisoformat(str(again[key]).replace(" ", "T"))
    if moment.tzinfo is None:
        again[key] = (moment + timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S")
    else:
        again[key] = (moment + timedelta(days=1)).isoformat()
    return again


def _pages_with_each_id_twice(
    code: str, shapes: list[tuple[object, object]]
) -> tuple[list[list[dict]], dict]:
    """Page 1: each posting with its id in one shape; page 2: the same postings, later and retitled, with
    their ids in another shape. Answers the pages and posting id → the title the load must keep."""
    platform = config.platform(code)
    id_key = identity.id_keys(platform)[0]
    modified_key = identity.modified_keys(platform)[0]
    title_key = "title" if platform.adapter == "jsonld" else (platform.field_map or {}).get("title", "title")
    first, second, titles = [], [], {}
    for item, (one, other) in zip(_clean_items(code, len(shapes)), shapes, strict=True):
        old = {**item, id_key: one}
        new = {**_later(item, modified_key), id_key: other}
        new[title_key] = f"{item[title_key]}（新）"
        first.append(old)
        second.append(new)
        titles[identity.posting_id(one)] = new[title_key]
    return [first, second], titles


# Each pair: the same id written two ways (the first occurrence, the later one).
JSONLD_PAIRS = [
    ("ZL-1", {"@type": "PropertyValue", "value": "ZL-1"}),
    ({"@type": "PropertyValue", "propertyID": "ZL-5", "name": "职位编号"}, "ZL-5"),
    ({"@type": "PropertyValue", "value": None, "propertyID": "ZL-6"}, ["ZL-6"]),
    (40213, "40213"),
    (40214.0, {"@type": "PropertyValue", "value": 40214}),
    ({"@value": "ZL-4"}, [{"@type": "PropertyValue", "value": "ZL-4"}, "ZL-other"]),
    ("  ZL-2\t", "ZL-2"),
    ("ZL-\x079", "ZL-9"),
    ([None, "ZL-7"], {"@type": "PropertyValue", "name": "职位编号", "value": " ZL-7 "}),
]
FLAT_PAIRS = [("TC-1", " TC-1 "), (5501, "5501"), (5502.0, 5502), ("TC-\x1b3", "TC-3")]


@pytest.mark.parametrize(("code", "pairs"), [("zhilian", JSONLD_PAIRS), ("tongcheng58", FLAT_PAIRS)])
def test_the_extractions_dedup_key_is_the_loaded_posting_id(warehouse_url, tmp_path, code, pairs):
    for one, other in pairs:
        assert identity.posting_id(one) == identity.posting_id(other)
    pages, titles = _pages_with_each_id_twice(code, pairs)
    platform = config.platform(code).model_copy(update={"page_size": len(pairs)})
    with _Feed(pages) as base_url:
        settings = client.ClientSettings.for_platform(
            platform, base_url=base_url, token="t0ken", rate_limit=0
        )
        result = client.extract(settings, SINCE, UNTIL, tmp_path)

    # the extraction saw every id twice and kept one item per posting, the later one
    assert (result.items_received, result.items_unique) == (2 * len(pairs), len(pairs))
    assert (result.duplicates_dropped, result.items_without_id) == (len(pairs), 0)
    kept = list(result.iter_items())
    dedup_keys = [identity.item_posting_id(item, result.id_keys) for item in kept]
    # the normaliser reads each kept item's posting_id as the extraction keyed it
    assert [normalise.normalise(item, platform)[0]["posting_id"] for item in kept] == dedup_keys

    engine = warehouse.engine(warehouse_url)
    report = load.load(engine, platform, result.iter_item_texts(), since=SINCE, until=UNTIL)
    assert (report.new, report.quarantined) == (len(pairs), 0)
    t = schema.core_posting
    with engine.connect() as conn:
        stored = dict(conn.execute(select(t.c.posting_id, t.c.title).where(t.c.platform_code == code)).all())
    assert sorted(stored) == sorted(dedup_keys) == sorted(titles)
    assert all(title.endswith("（新）") for title in stored.values())  # each posting is its later version

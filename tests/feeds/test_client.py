"""The feed extraction client against real HTTP: the feed simulator with every fault, and a small scripted
feed for what the simulator does not do (cursor ping-pong, newer copies of a posting, odd pages)."""

from __future__ import annotations

import gzip
import json
import logging
import math
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import msgspec
import pytest
import requests

from recruitment_devkit.feed_simulator import FAULTS, FeedSimulator
from recruitment_month import config
from recruitment_month.feeds import client, identity, landing
from recruitment_month.feeds.client import ExtractResult, FeedAuthError, FeedError, FeedResponseError

TOKEN = "s3cret-Feed-Token-7Qx"
VOLUME = 600
PAGE = 40
SINCE = datetime(2022, 11, 10, tzinfo=UTC)
UNTIL = datetime(2022, 11, 25, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def sim():
    with FeedSimulator(["zhilian", "tongcheng58", "lagou"], postings_per_platform=VOLUME, token=TOKEN) as s:
        yield s


@pytest.fixture(autouse=True)
def _no_faults(sim):
    sim.clear_faults()
    yield
    sim.clear_faults()


@pytest.fixture(params=["msgspec", "json"])
def decoder(request, monkeypatch):
    """Both ways of reading pages: msgspec's typed decode, and plain json (no msgspec installed)."""
    if request.param == "json":
        monkeypatch.setattr(landing, "_loads", json.loads)
        init = landing.PageReader.__init__

        def without_msgspec(self, *args):
            init(self, *args)
            self._typed = None

        monkeypatch.setattr(landing.PageReader, "__init__", without_msgspec)
    return request.param


def platform(code: str, **changes) -> config.Platform:
    return config.platform(code).model_copy(update={"page_size": PAGE, **changes})


def extract(sim, code, raw_dir, **options) -> ExtractResult:
    chosen = options.pop("platform", None) or platform(code)
    where = {"base_url": sim.base_url(code), "token": TOKEN}
    where |= {key: options.pop(key) for key in ("base_url", "token") if key in options}
    tuning = {"timeout": (2, 2), "backoff_factor": 0.01, "backoff_max": 0.05, "rate_limit": 0, **options}
    settings = client.ClientSettings.for_platform(chosen, **where, **tuning)
    return client.extract(settings, SINCE, UNTIL, raw_dir)


def ident(item: dict) -> str | None:
    value = item.get("identifier", item.get("job_id"))
    return value["value"] if isinstance(value, dict) else value


def truth(sim, code) -> list[dict]:
    return sim.expected_postings(code, SINCE, UNTIL)


def plain_pages(sim, code, limit=PAGE) -> list[bytes]:
    """Every page body of the window as a plain requests loop gets it."""
    pages, cursor = [], None
    with requests.Session() as http:
        while True:
            params = {"updated_since": SINCE.isoformat(), "updated_until": UNTIL.isoformat(), "limit": limit}
            if cursor:
                params["cursor"] = cursor
            r = http.get(
                sim.base_url(code) + "/jobs",
                params=params,
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=5,
            )
            assert r.status_code == 200
            pages.append(r.content)
            cursor = r.json()["next_cursor"]
            if cursor is None:
                return pages


def landed(result: ExtractResult) -> list[bytes]:
    with gzip.open(result.raw_path, "rb") as f:
        return f.read().splitlines()


def assert_exact(result: ExtractResult, expected: list[dict]) -> None:
    """Every posting once, none lost, none twice, in feed order, as served."""
    items = list(result.iter_items())
    assert [ident(i) for i in items] == [e["posting_id"] for e in expected]
    assert result.items_unique == len(expected) == len(items)
    assert result.items_received - result.duplicates_dropped == result.items_unique
    # the one-pass reading (winners from the extraction) and the two-pass one agree
    assert list(landing.iter_items(result.raw_path, config.platform(result.platform_code))) == items
    # and the items as texts are the same items
    assert [parsed(t) for t in result.iter_item_texts()] == items
    texts = landing.iter_item_texts(result.raw_path, config.platform(result.platform_code))
    assert [parsed(t) for t in texts] == items


def parsed(text):
    """An item of ``iter_item_texts``: its JSON text, or the item where the page was parsed."""
    return json.loads(bytes(text)) if isinstance(text, msgspec.Raw) else text


def no_leftovers(raw_dir: Path) -> list[Path]:
    return [p for p in Path(raw_dir).rglob("*") if p.name.endswith(".part")]


# ----------------------------------------------------------------------------------------------- clean


@pytest.mark.parametrize("code", ["zhilian", "tongcheng58"])
@pytest.mark.parametrize("prefetch", [True, False])
def test_clean_pull_is_the_ground_truth_and_lands_every_page_as_received(
    sim, tmp_path, code, prefetch, decoder
):
    expected = truth(sim, code)
    result = extract(sim, code, tmp_path, prefetch=prefetch)
    assert_exact(result, expected)
    assert list(result.iter_items()) == [e["item"] for e in expected]
    assert result.pages == math.ceil(len(expected) / PAGE)
    assert result.duplicates_dropped == result.retries == result.items_without_id == 0
    assert result.warnings == []
    assert result.raw_path == str(tmp_path / code / f"{SINCE:%Y%m%dT%H%M%SZ}_{UNTIL:%Y%m%dT%H%M%SZ}.jsonl.gz")
    assert landed(result) == plain_pages(sim, code)  # byte for byte, one line per page
    assert result.bytes_received == sum(len(p) for p in landed(result))
    assert result.rejected_path is None
    assert no_leftovers(tmp_path) == []
    if code == "tongcheng58":
        assert result.id_keys == ("job_id", "posting_id")
        assert all("job_id" in i and "@type" not in i for i in result.iter_items())


# ----------------------------------------------------------------------------------------------- faults

FAILING = {
    "http_500": {"times": 2, "status": 503},
    "http_500_every_3rd": {"every": 3},
    "rate_limit_429": {"times": 2, "retry_after": 1},
    "timeout": {"times": 2, "seconds": 1.0},
    "truncated_body_short": {"times": 2, "mode": "short"},
    "truncated_body_reset": {"times": 2, "mode": "reset"},
    "html_error_200": {"times": 2},
}


def fault_name(case: str) -> str:
    return next(name for name in FAULTS if case.startswith(name))


@pytest.mark.parametrize("case", list(FAILING))
def test_failing_faults_are_survived_with_the_exact_ground_truth(sim, tmp_path, case, caplog):
    caplog.set_level(logging.DEBUG)
    code = "zhilian"
    expected, clean = truth(sim, code), plain_pages(sim, code)
    fault = fault_name(case)
    sim.set_fault(code, fault, **FAILING[case])
    started = time.monotonic()
    result = extract(sim, code, tmp_path, timeout=(2, 0.25))
    elapsed = time.monotonic() - started
    fired = sim.faults()[code][fault]["fired"]
    assert fired >= 1
    assert_exact(result, expected)
    assert result.duplicates_dropped == 0
    assert landed(result) == clean  # bad answers are never landed
    assert result.retries >= fired
    if fault == "rate_limit_429":
        assert elapsed >= 2 * FAILING[case]["retry_after"]  # Retry-After honoured, twice
    if fault in ("html_error_200", "truncated_body") and FAILING[case].get("mode") != "reset":
        rejected = [json.loads(line) for line in Path(result.rejected_path).read_text().splitlines()]
        assert len(rejected) == fired == 2
        word = "HTML" if fault == "html_error_200" else "invalid JSON"
        assert all(word in r["reason"] and r["status"] == 200 and r["body"] for r in rejected)
        if fault == "html_error_200":
            assert "系统繁忙" in rejected[0]["body"]
    else:
        assert result.rejected_path is None
    assert TOKEN not in caplog.text


def test_repeat_page_gives_duplicates_and_still_every_posting(sim, tmp_path, decoder):
    code = "zhilian"
    expected, clean = truth(sim, code), plain_pages(sim, code)
    sim.set_fault(code, "repeat_page", page=2)
    result = extract(sim, code, tmp_path)
    assert_exact(result, expected)
    assert result.duplicates_dropped == PAGE
    pages = landed(result)
    assert pages[0] == clean[0]  # as served: page 2 twice, the first time
    assert pages[2:] == clean[1:]
    assert json.loads(pages[1])["data"] == json.loads(clean[1])["data"]  # pointing back at itself
    assert json.loads(pages[1])["next_cursor"] == json.loads(pages[0])["next_cursor"]
    assert result.pages == len(clean) + 1
    assert any("already requested cursor" in w for w in result.warnings)
    assert sim.faults()[code]["repeat_page"]["fired"] == 1


@pytest.mark.parametrize("code", ["zhilian", "tongcheng58"])
def test_repeat_posting_is_dropped_once(sim, tmp_path, code, decoder):
    expected = truth(sim, code)
    sim.set_fault(code, "repeat_posting", page=2)
    result = extract(sim, code, tmp_path)
    assert_exact(result, expected)
    assert result.duplicates_dropped == 1
    assert result.items_received == len(expected) + 1
    pages = [json.loads(line)["data"] for line in landed(result)]
    assert pages[1][-1] == pages[2][0]  # landed as served


@pytest.mark.parametrize(
    ("code", "options"),
    [
        ("zhilian", {}),  # title → name
        ("tongcheng58", {}),  # job_name → position_name
        ("tongcheng58", {"from_": "job_id", "to": "posting_id"}),  # the id under its canonical name
        ("zhilian", {"from_": "dateModified", "to": "modified"}),
    ],
)
def test_renamed_field_loses_nothing(sim, tmp_path, code, options):
    expected = truth(sim, code)
    sim.set_fault(code, "renamed_field", **options)
    result = extract(sim, code, tmp_path)
    items = list(result.iter_items())
    got = [ident(i) or i.get("posting_id") for i in items]
    assert got == [e["posting_id"] for e in expected]
    assert result.items_without_id == 0


def test_an_unknown_id_field_keeps_every_item(sim, tmp_path):
    """Without a usable id nothing is de-duplicated and nothing is dropped: the normaliser decides."""
    code = "zhilian"
    expected = truth(sim, code)
    sim.set_fault(code, "renamed_field", from_="identifier", to="jobId")
    sim.set_fault(code, "repeat_posting", page=2)
    result = extract(sim, code, tmp_path)
    items = list(result.iter_items())
    assert result.items_without_id == result.items_received == len(expected) + 1
    assert result.duplicates_dropped == 0
    assert len(items) == len(expected) + 1
    assert {i["jobId"]["value"] if isinstance(i["jobId"], dict) else i["jobId"] for i in items} == {
        e["posting_id"] for e in expected
    }


def test_every_fault_at_once(sim, tmp_path):
    code = "lagou"
    expected = truth(sim, code)
    for fault in ("http_500", "html_error_200", "truncated_body"):
        sim.set_fault(code, fault)
    sim.set_fault(code, "rate_limit_429", times=1, retry_after=1)
    sim.set_fault(code, "timeout", times=1, seconds=0.8)
    sim.set_fault(code, "repeat_page", page=2)
    sim.set_fault(code, "repeat_posting", page=3)
    sim.set_fault(code, "renamed_field")
    result = extract(sim, code, tmp_path, timeout=(2, 0.25))
    assert_exact(result, expected)
    assert result.duplicates_dropped == PAGE + 1
    fired = {name: f["fired"] for name, f in sim.faults()[code].items() if name != "renamed_field"}
    assert fired == {
        "http_500": 2,
        "html_error_200": 2,
        "truncated_body": 2,
        "rate_limit_429": 1,
        "timeout": 1,
        "repeat_page": 1,
        "repeat_posting": 1,
    }


# ----------------------------------------------------------------------------------------------- failures


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (("http_500", {"times": 1000}), (FeedError, "HTTP 500")),
        (("rate_limit_429", {"times": 1000, "retry_after": 0}), (FeedError, "HTTP 429")),
        (("html_error_200", {"times": 1000}), (FeedResponseError, "HTML page")),
        (("truncated_body", {"times": 1000}), (FeedResponseError, "invalid JSON")),
        (("truncated_body", {"times": 1000, "mode": "reset"}), (FeedResponseError, "cut off")),
        (("timeout", {"times": 1000, "seconds": 0.5}), (FeedError, "timed out")),
    ],
)
def test_a_fault_that_never_recovers_is_a_clear_error(sim, tmp_path, caplog, fault, expected):
    (fault, options), (error, says) = fault, expected
    caplog.set_level(logging.DEBUG)
    code = "zhilian"
    sim.set_fault(code, fault, **options)
    with pytest.raises(error) as raised:
        extract(sim, code, tmp_path, timeout=(2, 0.1), retries=3, body_attempts=3)
    message = str(raised.value)
    assert says in message
    assert message.startswith("zhilian:")
    assert "/p/zhilian/jobs?updated_since=" in message  # the URL, without the token
    assert raised.value.platform_code == "zhilian"
    assert "/p/zhilian/jobs" in raised.value.url
    assert TOKEN not in message
    assert TOKEN not in repr(raised.value)
    assert TOKEN not in caplog.text
    assert list(tmp_path.rglob("*.jsonl.gz")) == []  # nothing that looks complete
    assert no_leftovers(tmp_path) == []


def test_wrong_token_is_an_auth_error_at_once(sim, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    started = time.monotonic()
    with pytest.raises(FeedAuthError) as raised:
        extract(sim, "zhilian", tmp_path, token="wrong-token-1234")
    assert time.monotonic() - started < 2
    answers = [r for r in caplog.records if r.name == "urllib3.connectionpool" and '" 401 ' in r.getMessage()]
    assert len(answers) == 1  # not retried
    message = str(raised.value)
    assert "HTTP 401" in message
    assert "zhilian" in message
    assert "token" in message
    assert raised.value.status == 401
    assert "wrong-token-1234" not in message
    assert "wrong-token-1234" not in caplog.text
    assert list(tmp_path.rglob("*.jsonl.gz")) == []


def test_max_pages_is_a_clear_error_and_keeps_the_previous_file(sim, tmp_path):
    good = extract(sim, "zhilian", tmp_path)
    before = Path(good.raw_path).read_bytes()
    with pytest.raises(FeedError, match=r"zhilian: still a next_cursor after 2 pages"):
        extract(sim, "zhilian", tmp_path, max_pages=2)
    assert Path(good.raw_path).read_bytes() == before  # a failed rerun does not touch the complete file
    assert no_leftovers(tmp_path) == []


def test_cursor_loop_guard_terminates(sim, tmp_path, caplog):
    """A feed that answers page 2 with page 2's own cursor for ever: followed once, then stopped."""
    sim.set_fault("zhilian", "repeat_page", page=2, times=10_000)
    result = extract(sim, "zhilian", tmp_path, max_pages=50)
    assert result.pages == 3
    assert result.items_received == 3 * PAGE
    assert result.items_unique == 2 * PAGE
    assert any(w.startswith("cursor loop") for w in result.warnings)
    assert "cursor loop" in caplog.text


# ----------------------------------------------------------------------------------------------- reruns


def test_rerun_overwrites_the_raw_file_and_gives_the_same_result(sim, tmp_path):
    first = extract(sim, "zhilian", tmp_path)
    first_bytes = Path(first.raw_path).read_bytes()
    again = extract(sim, "zhilian", tmp_path)
    assert again.raw_path == first.raw_path
    assert Path(again.raw_path).read_bytes() == first_bytes  # same pages, same bytes
    same = ("pages", "items_received", "items_unique", "duplicates_dropped", "retries", "winners")
    assert {k: getattr(again, k) for k in same} == {k: getattr(first, k) for k in same}
    # a rerun that meets faults replaces the file (and its rejections) with what it got
    sim.set_fault("zhilian", "repeat_page", page=2)
    sim.set_fault("zhilian", "html_error_200", times=1)
    faulty = extract(sim, "zhilian", tmp_path)
    assert faulty.pages == first.pages + 1
    assert faulty.rejected_path
    sim.clear_faults()
    clean = extract(sim, "zhilian", tmp_path)
    assert Path(clean.raw_path).read_bytes() == first_bytes
    assert clean.rejected_path is None
    assert not landing.rejected_path_for(clean.raw_path).exists()
    assert sorted(p.name for p in (tmp_path / "zhilian").iterdir()) == [Path(first.raw_path).name]


def test_result_travels_as_json(sim, tmp_path):
    sim.set_fault("zhilian", "repeat_posting", page=2)
    result = extract(sim, "zhilian", tmp_path)
    restored = ExtractResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert restored == result
    assert list(restored.iter_items()) == list(result.iter_items())


def test_rate_limit_is_honoured(sim, tmp_path):
    slow = platform("zhilian", page_size=15, rate_limit_per_second=25)
    started = time.monotonic()
    result = extract(sim, "zhilian", tmp_path, platform=slow, rate_limit=None)
    assert result.pages >= 8
    assert time.monotonic() - started >= (result.pages - 1) / 25


# ----------------------------------------------------------------------------------------------- scripted feed


class ScriptedFeed:
    """Serves ``pages[cursor]`` (cursor None for the first request) as the body of a 200."""

    def __init__(self, pages: dict[str | None, bytes | dict]):
        self.pages = {k: v if isinstance(v, bytes) else json.dumps(v).encode() for k, v in pages.items()}
        self.requests: list[str | None] = []
        feed = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                cursor = parse_qs(urlsplit(self.path).query).get("cursor", [None])[-1]
                feed.requests.append(cursor)
                body = feed.pages[cursor]
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/feed"

    def __enter__(self) -> ScriptedFeed:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def posting(ident: str, modified: str, **extra) -> dict:
    return {"identifier": {"@type": "PropertyValue", "value": ident}, "dateModified": modified, **extra}


def scripted_extract(feed, tmp_path, **options):
    settings = client.ClientSettings.for_platform(
        platform("zhilian"), base_url=feed.base_url, token=TOKEN, backoff_factor=0.01, rate_limit=0, **options
    )
    return client.extract(settings, SINCE, UNTIL, tmp_path)


@pytest.mark.parametrize("prefetch", [True, False])
def test_ping_pong_cursors_terminate(tmp_path, prefetch):
    page = {"data": [posting("A1", "2022-11-11T00:00:00Z")]}
    with ScriptedFeed(
        {
            None: {**page, "next_cursor": "a"},
            "a": {**page, "next_cursor": "b"},
            "b": {**page, "next_cursor": "a"},
        }
    ) as feed:
        result = scripted_extract(feed, tmp_path, prefetch=prefetch)
    assert feed.requests == [None, "a", "b", "a"]
    assert result.pages == 4
    assert result.items_unique == 1
    assert result.duplicates_dropped == 3
    assert any(w.startswith("cursor loop") for w in result.warnings)


def test_the_latest_copy_of_a_posting_wins(tmp_path, decoder):
    pages = {
        None: {
            "data": [
                posting("X", "2022-11-11T10:00:00+08:00", v=1),
                posting("Y", "2022-11-11T10:00:00+08:00", v=1),
                posting("Z", "2022-11-12T10:00:00+08:00", v=1),
            ],
            "next_cursor": "2",
        },
        "2": {
            "data": [
                posting("X", "2022-11-11T03:00:00Z", v=2),  # an hour later than X v1
                posting("Y", "2022-11-11T02:00:00Z", v=2),  # the same instant as Y v1
                posting("Z", "2022-11-11T10:00:00+08:00", v=2),  # older
                "not an object",
                {"title": "no id"},
            ],
            "next_cursor": "3",
        },
        "3": {"data": [posting("X", "2022-11-11T02:30:00Z", v=3), {"title": "no id"}], "next_cursor": None},
    }
    with ScriptedFeed(pages) as feed:
        result = scripted_extract(feed, tmp_path)
    items = list(result.iter_items())
    versions = {
        identity.posting_id(i.get("identifier")): i["v"] for i in items if isinstance(i, dict) and "v" in i
    }
    assert versions == {"X": 2, "Y": 1, "Z": 1}
    assert [i["identifier"]["value"] if isinstance(i, dict) and "v" in i else i for i in items] == [
        "Y",
        "Z",
        "X",
        "not an object",
        {"title": "no id"},
        {"title": "no id"},
    ]
    assert result.duplicates_dropped == 4
    assert result.items_without_id == 3
    assert result.items_unique == len(items) == 6
    assert result.winners == {"X": [1, 0], "Y": None, "Z": None}
    assert list(landing.iter_items(result.raw_path, platform("zhilian"))) == items
    assert [parsed(t) for t in result.iter_item_texts()] == items


def test_items_as_texts_are_the_items_as_received_without_spaces(tmp_path):
    """Each item's JSON text as on the page, less the spaces between tokens (numbers, escapes and key
    order as received), however the page was spaced; a page msgspec does not take (NaN) comes parsed."""
    spaced = (
        b'{"data": [ {"identifier": "A", "n": 1.50} ,{"identifier":"B","t":"\\u4e2d"}], "next_cursor": "2"}'
    )
    compact = b'{"data":[{"identifier":"D","n":1.50},{"identifier":"E","t":"\\u4e2d"}],"next_cursor":"3"}'
    nan = b'{"data": [{"identifier": "C", "x": NaN}], "next_cursor": null}'
    with ScriptedFeed({None: spaced, "2": compact, "3": nan}) as feed:
        result = scripted_extract(feed, tmp_path)
    texts = list(result.iter_item_texts())
    assert [bytes(t) for t in texts[:4]] == [
        b'{"identifier":"A","n":1.50}',
        b'{"identifier":"B","t":"\\u4e2d"}',
        b'{"identifier":"D","n":1.50}',
        b'{"identifier":"E","t":"\\u4e2d"}',
    ]
    assert isinstance(texts[4], dict)
    assert texts[4]["identifier"] == "C"
    assert math.isnan(texts[4]["x"])


def test_pretty_printed_pages_stay_one_line_each(tmp_path):
    page = {"data": [posting("P1", "2022-11-11T00:00:00Z", title="多行\\n标题")], "next_cursor": None}
    body = json.dumps(page, indent=2, ensure_ascii=False).encode()
    with ScriptedFeed({None: body}) as feed:
        result = scripted_extract(feed, tmp_path)
    lines = landed(result)
    assert len(lines) == 1
    assert json.loads(lines[0]) == page
    assert lines[0] == body.replace(b"\n", b" ")


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"data": [], "cursor": None}, "no 'next_cursor'"),
        ({"items": [], "next_cursor": None}, "'data' is missing"),
        ({"data": {"a": 1}, "next_cursor": None}, "'data' is a dict"),
        ([1, 2], "the JSON is a list"),
        ({"data": [], "next_cursor": 7}, "'next_cursor' is a int"),
        (b"", "an empty body"),
    ],
)
def test_json_that_is_not_the_api_is_retried_then_named(tmp_path, body, says):
    with ScriptedFeed({None: body}) as feed, pytest.raises(FeedResponseError, match=says) as raised:
        scripted_extract(feed, tmp_path, body_attempts=3)
    assert feed.requests == [None] * 3
    assert "in 3 attempts" in str(raised.value)
    rejected = Path(tmp_path / "zhilian").glob("*.rejected.jsonl")
    assert len(next(rejected).read_text().splitlines()) == 3


# ----------------------------------------------------------------------------------------------- Airflow


def test_connection_for_reads_the_airflow_connection(monkeypatch):
    zhilian = config.platform("zhilian")
    monkeypatch.setenv(
        "AIRFLOW_CONN_FEED_ZHILIAN",
        json.dumps(
            {"conn_type": "http", "host": "https://feeds.example.org/zhilian/", "password": "tok-123"}
        ),
    )
    assert client.connection_for(zhilian) == ("https://feeds.example.org/zhilian", "tok-123")
    monkeypatch.setenv("AIRFLOW_CONN_FEED_ZHILIAN", json.dumps({"conn_type": "http", "password": "tok-456"}))
    assert client.connection_for(zhilian) == (zhilian.base_url, "tok-456")


def test_module_imports_no_airflow():
    code = (
        "import sys; import recruitment_month.feeds.client; "
        "bad = [m for m in sys.modules if m == 'airflow' or m.startswith('airflow.')]; "
        "assert not bad, bad"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], check=True, env={"PYTHONPATH": str(root / "plugins")})

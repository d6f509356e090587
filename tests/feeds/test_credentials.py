"""Where a platform's feed is and the token it takes: platforms.yaml plus one secret, over real HTTP.

Each test reads its own copy of the shipped platforms.yaml, whose base URLs point at the simulator
started here (``RECRUITMENT_FEED_SIMULATOR_URL``), and pulls a window through the job_feeds DAG's own
extract step: settings → configuration → connection → HTTP.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime

import pytest

from recruitment_devkit.feed_simulator import FeedSimulator
from recruitment_month import config
from recruitment_month.feeds import client, credentials
from recruitment_month.feeds import pipeline as feeds_pipeline
from recruitment_month.feeds.client import FeedAuthError
from recruitment_month.settings import settings

TOKEN = "Zr7-feed-token-9Kp"
SINCE = datetime(2022, 11, 10, tzinfo=UTC)
UNTIL = datetime(2022, 11, 17, tzinfo=UTC)
UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing answers there


@pytest.fixture(scope="module")
def sim():
    with FeedSimulator(["zhilian", "tongcheng58"], postings_per_platform=120, token=TOKEN) as s:
        yield s


@pytest.fixture
def feeds(sim, tmp_path, monkeypatch):
    """No feed connection and no demo token; this test's platforms.yaml, pointing at ``sim``."""
    for name in [n for n in os.environ if n.startswith("AIRFLOW_CONN_FEED_")]:
        monkeypatch.delenv(name)
    monkeypatch.delenv("RECRUITMENT_FEED_DEMO_TOKEN", raising=False)
    shipped = settings().platforms_file
    monkeypatch.setenv("RECRUITMENT_PLATFORMS_FILE", str(shutil.copy(shipped, tmp_path / "platforms.yaml")))
    monkeypatch.setenv("RECRUITMENT_FEED_SIMULATOR_URL", sim.url)
    monkeypatch.setenv("RECRUITMENT_RAW_FEEDS", str(tmp_path / "raw"))
    return monkeypatch


def _connection(monkeypatch, conn_id: str, **fields) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "http", **fields}))


def _pull(code: str) -> dict:
    return feeds_pipeline.extract(code, SINCE, UNTIL)


def test_the_base_url_from_platforms_yaml_and_the_token_from_the_connection(feeds, sim):
    _connection(feeds, "feed_zhilian", password=TOKEN)
    zhilian = config.platform("zhilian")
    assert zhilian.conn_id == "feed_zhilian", "named from the platform code"
    assert client.connection_for(zhilian) == (f"{sim.url}/p/zhilian", TOKEN)
    pulled = _pull("zhilian")
    assert pulled["items_unique"] == len(sim.expected_postings("zhilian", SINCE, UNTIL)) > 0
    assert str(settings().raw_feeds) in pulled["raw_path"]


def test_a_connection_with_a_host_overrides_the_base_url(feeds, sim):
    feeds.setenv("RECRUITMENT_FEED_SIMULATOR_URL", UNREACHABLE)
    _connection(feeds, "feed_zhilian", host=sim.base_url("zhilian") + "/", password=TOKEN)
    assert config.platform("zhilian").base_url == f"{UNREACHABLE}/p/zhilian"
    assert client.connection_for(config.platform("zhilian")) == (sim.base_url("zhilian"), TOKEN)
    assert _pull("zhilian")["items_unique"] == len(sim.expected_postings("zhilian", SINCE, UNTIL))


def test_a_bare_host_in_the_connection_is_http_with_its_port(feeds):
    _connection(feeds, "feed_zhilian", host="feeds.internal", port=8443, password=TOKEN)
    assert client.connection_for(config.platform("zhilian")) == ("http://feeds.internal:8443", TOKEN)


def test_the_token_is_what_the_feed_gets(feeds):
    _connection(feeds, "feed_zhilian", password="not-" + TOKEN)
    with pytest.raises(FeedAuthError):
        _pull("zhilian")


def test_a_missing_token_names_the_platform_and_what_to_set(feeds):
    with pytest.raises(credentials.MissingFeedToken) as raised:
        _pull("tongcheng58")
    message = str(raised.value)
    assert "tongcheng58 (58同城)" in message
    assert "AIRFLOW_CONN_FEED_TONGCHENG58=" in message
    assert "'feed_tongcheng58'" in message
    assert isinstance(raised.value, config.ConfigError)


def test_a_connection_without_a_password_is_a_missing_token(feeds, sim):
    _connection(feeds, "feed_zhilian", host=sim.base_url("zhilian"))
    with pytest.raises(credentials.MissingFeedToken, match="AIRFLOW_CONN_FEED_ZHILIAN"):
        client.connection_for(config.platform("zhilian"))


def test_the_demo_token_stands_in_for_every_missing_connection(feeds, sim):
    feeds.setenv("RECRUITMENT_FEED_DEMO_TOKEN", TOKEN)
    for code in ("zhilian", "tongcheng58"):
        assert client.connection_for(config.platform(code)) == (sim.base_url(code), TOKEN)
        assert _pull(code)["items_unique"] == len(sim.expected_postings(code, SINCE, UNTIL))


def test_a_platforms_own_connection_wins_over_the_demo_token(feeds):
    feeds.setenv("RECRUITMENT_FEED_DEMO_TOKEN", "demo-token")
    _connection(feeds, "feed_zhilian", password=TOKEN)
    assert client.connection_for(config.platform("zhilian"))[1] == TOKEN
    assert client.connection_for(config.platform("tongcheng58"))[1] == "demo-token"


def test_a_conn_id_set_in_platforms_yaml_is_the_one_read(feeds, sim, tmp_path):
    path = tmp_path / "platforms.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "  - code: zhilian\n", "  - code: zhilian\n    conn_id: partner_zhaopin\n"
        ),
        encoding="utf-8",
    )
    _connection(feeds, "partner_zhaopin", password=TOKEN)
    _connection(feeds, "feed_zhilian", password="not-" + TOKEN)
    assert config.platform("zhilian").conn_id == "partner_zhaopin"
    assert client.connection_for(config.platform("zhilian")) == (sim.base_url("zhilian"), TOKEN)

"""Configuration: the shipped files are valid, and every mistake names the file, the key and the problem."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

import pytest
import yaml

from recruitment_month import config
from recruitment_month.config import ConfigError, Platforms, Units, load_file
from recruitment_month.settings import settings

CONFIG = settings().config_dir


def test_the_2022_campaign_has_eight_friday_weeks():
    campaign = config.campaign()
    assert campaign.weeks == [
        date(2022, 11, 11) + (date(2022, 11, 18) - date(2022, 11, 11)) * i for i in range(8)
    ]
    assert campaign.weeks[-1] == date(2022, 12, 30)
    assert all(w.weekday() == 4 for w in campaign.weeks)
    deadline = campaign.deadline(date(2022, 11, 11))
    assert deadline == datetime(2022, 11, 11, 17, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert deadline.utcoffset().total_seconds() == 8 * 3600


def test_week_lookup_around_the_deadline():
    campaign = config.campaign()
    tz = campaign.tz
    assert campaign.week_for(datetime(2022, 11, 11, 17, 0, tzinfo=tz)) == date(2022, 11, 11)
    assert campaign.week_for(datetime(2022, 11, 11, 17, 0, 1, tzinfo=tz)) == date(2022, 11, 18)
    assert campaign.latest_closed_week(datetime(2022, 11, 11, 16, 59, tzinfo=tz)) is None
    assert campaign.latest_closed_week(datetime(2022, 11, 18, 17, 0, tzinfo=tz)) == date(2022, 11, 18)


def test_reminder_times_default_to_thursday_friday_saturday_monday():
    campaign = config.campaign()
    week = date(2022, 11, 18)
    before = [r.at(week, campaign.tz) for r in campaign.reminders.before_deadline]
    after = [r.at(week, campaign.tz) for r in campaign.reminders.follow_up]
    assert [(t.strftime("%a %H:%M")) for t in before] == ["Thu 17:00", "Fri 15:00"]
    assert [(t.strftime("%a %H:%M")) for t in after] == ["Sat 10:00", "Mon 10:00"]


def test_thirty_two_units_with_short_names():
    units = config.units()
    assert len(units.units) == 32
    assert units.by_code()["660000"].name == "新疆生产建设兵团"
    for typed, code in [
        ("广西", "450000"),
        ("广西壮族自治区", "450000"),
        ("广西区", "450000"),
        ("兵团", "660000"),
        ("新疆兵团", "660000"),
        ("新疆", "650000"),
        ("内蒙古", "150000"),
        (" 北京市 ", "110000"),
        ("440000", "440000"),
        ("guangdong", "440000"),
        ("火星", None),
    ]:
        assert units.resolve(typed) == code, typed
    assert all(c.endswith("@example.org") for u in units.units for c in u.contacts)


def test_feed_limits_are_the_files_with_a_platforms_own_over_them(tmp_path):
    path = _write(tmp_path, "platforms.yaml", _set(["platforms", 1, "limits"], {"max_page_bytes": 1000}))
    platforms = {p.code: p for p in load_file(path, Platforms).platforms}
    shared = load_file(path, Platforms).limits
    assert platforms["qiancheng"].limits == shared.model_copy(update={"max_page_bytes": 1000})
    assert platforms["zhilian"].limits == shared
    assert shared.max_page_inflated_bytes == 100 * 2**20
    assert shared.salary_monthly_max == 100_000
    assert {p.salary_unit for p in platforms.values()} == {"MONTH"}


def test_twelve_platforms():
    platforms = config.platforms()
    assert len(platforms) == 12
    assert len({p.code for p in platforms}) == 12
    assert any(p.adapter == "flat" for p in platforms)


def test_each_platform_is_one_entry_with_its_base_url_and_a_connection_named_from_its_code(monkeypatch):
    monkeypatch.delenv("RECRUITMENT_FEED_SIMULATOR_URL", raising=False)
    platforms = load_file(CONFIG / "platforms.yaml", Platforms).platforms
    for p in platforms:
        assert p.base_url == f"http://127.0.0.1:8765/p/{p.code}"
        assert p.conn_id == f"feed_{p.code}"
    monkeypatch.setenv("RECRUITMENT_FEED_SIMULATOR_URL", "http://feed-simulator:8765")
    platforms = load_file(CONFIG / "platforms.yaml", Platforms).platforms
    assert {p.base_url for p in platforms} == {f"http://feed-simulator:8765/p/{p.code}" for p in platforms}


@pytest.mark.parametrize(
    ("text", "environment", "expanded"),
    [
        ("https://feeds.example.org/zhilian", {}, "https://feeds.example.org/zhilian"),
        ("${FEEDS}/p/a", {"FEEDS": "https://x.example.org"}, "https://x.example.org/p/a"),
        ("${FEEDS:-http://127.0.0.1:8765}/p/a", {}, "http://127.0.0.1:8765/p/a"),
        ("${FEEDS:-http://127.0.0.1:8765}/p/a", {"FEEDS": ""}, "http://127.0.0.1:8765/p/a"),
        (
            "${FEEDS:-http://127.0.0.1:8765}/p/a",
            {"FEEDS": "https://y.example.org"},
            "https://y.example.org/p/a",
        ),
        ("https://${HOST}:${PORT:-443}/feed", {"HOST": "h.example.org"}, "https://h.example.org:443/feed"),
        ("$FEEDS/p/a", {"FEEDS": "https://x.example.org"}, "$FEEDS/p/a"),
    ],
)
def test_environment_references_in_a_base_url(monkeypatch, text, environment, expanded):
    for name in ("FEEDS", "HOST", "PORT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert config.expand_environment(text) == expanded


def _write(tmp_path: Path, source: str, mutate) -> Path:
    data = yaml.safe_load((CONFIG / source).read_text(encoding="utf-8"))
    mutate(data)
    path = tmp_path / source
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _set(path: list, value):
    def mutate(data):
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return mutate


def _drop(path: list):
    def mutate(data):
        node = data
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return mutate


class Mistake(NamedTuple):
    """A configuration file with one mistake, and what the error must say about it."""

    source: str
    model: type
    mutate: Callable[[dict], None]
    key: str
    problem: str


MISTAKES = [
    (
        "campaign.yaml",
        config._CampaignFile,
        _set(["campaign", "first_week_ending"], "2022-11-10"),
        "campaign",
        "is a thursday, not a friday",
    ),
    (
        "campaign.yaml",
        config._CampaignFile,
        _set(["campaign", "timezone"], "Asia/Beijing"),
        "campaign.timezone",
        "unknown time zone",
    ),
    (
        "campaign.yaml",
        config._CampaignFile,
        _set(["campaign", "deadline_time"], "25:00"),
        "campaign.deadline_time",
        "should match pattern",
    ),
    (
        "campaign.yaml",
        config._CampaignFile,
        _drop(["campaign", "recipients"]),
        "campaign.recipients",
        "Field required",
    ),
    (
        "campaign.yaml",
        config._CampaignFile,
        _set(["campaign", "sender"], "not-an-address"),
        "campaign.sender",
        "should match pattern",
    ),
    (
        "campaign.yaml",
        config._CampaignFile,
        _set(["campaign", "deadlin_time"], "17:00"),
        "campaign.deadlin_time",
        "unknown key",
    ),
    (
        "campaign.yaml",
        config._CampaignFile,
        _set(["campaign", "reminders", "follow_up"], [{"day_offset": -1, "time": "10:00"}]),
        "campaign.reminders",
        "before the deadline",
    ),
    (
        "units.yaml",
        Units,
        _set(["units", 3, "code"], "14000"),
        "units[3](code 14000).code",
        "should match pattern",
    ),
    (
        "units.yaml",
        Units,
        _set(["units", 3, "code"], "110000"),
        "units",
        "unit code 110000 appears twice",
    ),
    (
        "units.yaml",
        Units,
        _set(["units", 3, "short_names"], ["北京"]),
        "units",
        "'北京' is used by units",
    ),
    (
        "units.yaml",
        Units,
        _set(["units", 0, "contacts"], []),
        "units[0](code 110000).contacts",
        "at least 1 item",
    ),
    (
        "units.yaml",
        Units,
        _set(["units", 2, "authority"], "河北省教育局"),
        "units[2](code 130000)",
        "education authority",
    ),
    (
        "units.yaml",
        Units,
        _set(["units", 2, "authority"], "北京市教育委员会"),
        "units[2](code 130000)",
        "should be the official name of 河北省",
    ),
    (
        "platforms.yaml",
        Platforms,
        _set(["platforms", 4, "field_map"], None),
        "platforms[4](code tongcheng58)",
        "needs a field_map",
    ),
    (
        "platforms.yaml",
        Platforms,
        _set(["platforms", 0, "adapter"], "xml"),
        "platforms[0](code zhilian).adapter",
        "'jsonld' or 'flat'",
    ),
    (
        "platforms.yaml",
        Platforms,
        _set(["platforms", 1, "code"], "zhilian"),
        "platforms",
        "platform codes appear twice: zhilian",
    ),
    (
        "platforms.yaml",
        Platforms,
        _set(["platforms", 2, "page_size"], 0),
        "platforms[2](code liepin).page_size",
        "greater than 0",
    ),
    (
        "platforms.yaml",
        Platforms,
        _set(["platforms", 3, "salary_unit"], "FORTNIGHT"),
        "platforms[3](code bosszhipin).salary_unit",
        "'HOUR', 'DAY', 'WEEK', 'MONTH' or 'YEAR'",
    ),
    (
        "platforms.yaml",
        Platforms,
        _set(["platforms", 5, "limits"], {"salary_monthly_min": 200_000}),
        "platforms[5](code lagou).limits",
        "salary_monthly_min must be below salary_monthly_max",
    ),
    (
        "platforms.yaml",
        Platforms,
        _set(["limits", "max_page_bytes"], 0),
        "limits.max_page_bytes",
        "greater than 0",
    ),
    (
        "platforms.yaml",
        Platforms,
        _set(["platforms", 6, "base_url"], "${RECRUITMENT_TEST_UNSET_FEEDS}/p/chinahr"),
        "platforms[6](code chinahr).base_url",
        "RECRUITMENT_TEST_UNSET_FEEDS is not set and ${RECRUITMENT_TEST_UNSET_FEEDS} has no default",
    ),
    (
        "platforms.yaml",
        Platforms,
        _set(["platforms", 7, "base_url"], "feeds.example.org/p/yingjiesheng"),
        "platforms[7](code yingjiesheng).base_url",
        "should match pattern",
    ),
    (
        "platforms.yaml",
        Platforms,
        _set(["platforms", 8, "conn_id"], "feed-shixiseng"),
        "platforms[8](code shixiseng).conn_id",
        "should match pattern",
    ),
]


@pytest.mark.parametrize("mistake", [Mistake(*m) for m in MISTAKES], ids=lambda m: m.key)
def test_a_mistake_names_file_key_and_problem(tmp_path, mistake):
    path = _write(tmp_path, mistake.source, mistake.mutate)
    with pytest.raises(ConfigError) as err:
        load_file(path, mistake.model)
    message = str(err.value)
    assert str(path) in message
    assert f": {mistake.key}" in message
    assert mistake.problem in message


def test_unreadable_files_are_named(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match=r"nope\.yaml: file not found"):
        load_file(missing, Units)
    broken = tmp_path / "broken.yaml"
    broken.write_text("units: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken\.yaml: not valid YAML"):
        load_file(broken, Units)
    listy = tmp_path / "list.yaml"
    listy.write_text("- 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"list\.yaml: expected a mapping"):
        load_file(listy, Units)


def test_next_years_campaign_is_a_new_file(tmp_path, monkeypatch):
    path = _write(
        tmp_path,
        "campaign.yaml",
        lambda d: d["campaign"].update(
            code="2024-grads", first_week_ending="2023-11-10", last_week_ending="2023-12-29"
        ),
    )
    monkeypatch.setenv("RECRUITMENT_CAMPAIGN_FILE", str(path))
    campaign = config.campaign()
    assert campaign.code == "2024-grads"
    assert len(campaign.weeks) == 8
    assert campaign.weeks[0] == date(2023, 11, 10)


def test_sign_off_is_off_as_shipped_and_needs_reviewers_when_required(tmp_path):
    campaign = config.campaign()
    assert campaign.sign_off.required is False
    assert campaign.revision_digest_at == "09:00"
    path = _write(tmp_path, "campaign.yaml", _set(["campaign", "sign_off", "required"], True))
    with pytest.raises(ConfigError, match="no reviewers are named"):
        load_file(path, config._CampaignFile)


def test_the_digest_day_turns_at_the_digest_time():
    campaign = config.campaign()
    tz = ZoneInfo("Asia/Shanghai")
    assert campaign.digest_day(datetime(2022, 11, 13, 8, 59, tzinfo=tz)) == date(2022, 11, 12)
    assert campaign.digest_day(datetime(2022, 11, 13, 9, 0, tzinfo=tz)) == date(2022, 11, 13)
    assert campaign.digest_day(datetime(2022, 11, 13, 1, 0, tzinfo=ZoneInfo("UTC"))) == date(2022, 11, 13)

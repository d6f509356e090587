"""The settings object: every folder and file of the product, from the environment with its defaults."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from recruitment_month import config, quality, warehouse
from recruitment_month.feeds import pipeline as feeds_pipeline
from recruitment_month.reports import messages
from recruitment_month.reports import pipeline as reports_pipeline
from recruitment_month.settings import PREFIX, Settings, settings
from recruitment_month.summary import render

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = ROOT / "plugins"
VARIABLES = [f"{PREFIX}{name.upper()}" for name in Settings.model_fields]


@pytest.fixture
def bare(monkeypatch):
    """No RECRUITMENT_* variable set: the defaults."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_defaults_follow_the_checkout(bare):
    s = settings()
    assert s.home == ROOT
    assert s.include == ROOT / "include"
    assert s.config_dir == ROOT / "include" / "config"
    assert s.campaign_file == ROOT / "include" / "config" / "campaign.yaml"
    assert s.units_file == ROOT / "include" / "config" / "units.yaml"
    assert s.platforms_file == ROOT / "include" / "config" / "platforms.yaml"
    assert s.sql_dir == ROOT / "include" / "sql"
    assert s.email_templates == ROOT / "include" / "templates" / "email"
    assert s.expectations_dir == ROOT / "include" / "expectations"
    assert s.plugins_dir == PLUGINS
    assert s.migrations_dir == PLUGINS / "recruitment_month" / "migrations"
    assert s.data_dir == ROOT / "data"
    assert s.inbox == str(ROOT / "data" / "inbox")
    assert s.archive == str(ROOT / "data" / "archive" / "reports")
    assert s.raw_feeds == ROOT / "data" / "raw" / "feeds"
    assert s.data_docs == ROOT / "data" / "datadocs"
    assert s.data_docs_url == (ROOT / "data" / "datadocs" / "index.html").as_uri()
    assert s.feed_demo_token is None


def test_every_default_folder_exists_in_the_checkout(bare):
    s = settings()
    for path in (s.config_dir, s.sql_dir, s.email_templates, s.expectations_dir, s.migrations_dir):
        assert path.is_dir(), path
    for path in (s.campaign_file, s.units_file, s.platforms_file):
        assert path.is_file(), path


def test_the_data_folder_moves_everything_under_it(bare, tmp_path):
    bare.setenv("RECRUITMENT_DATA_DIR", str(tmp_path))
    s = settings()
    assert s.inbox == str(tmp_path / "inbox")
    assert s.archive == str(tmp_path / "archive" / "reports")
    assert s.raw_feeds == tmp_path / "raw" / "feeds"
    assert s.data_docs == tmp_path / "datadocs"
    assert s.data_docs_url == (tmp_path / "datadocs" / "index.html").as_uri()


def test_the_home_moves_include_and_data(bare, tmp_path):
    bare.setenv("RECRUITMENT_HOME", str(tmp_path))
    s = settings()
    assert s.include == tmp_path / "include"
    assert s.platforms_file == tmp_path / "include" / "config" / "platforms.yaml"
    assert s.data_dir == tmp_path / "data"
    assert s.plugins_dir == PLUGINS, "the package is where it is, wherever the home points"


def test_each_variable_overrides_its_own_setting_only(bare, tmp_path):
    bare.setenv("RECRUITMENT_INCLUDE", str(tmp_path / "inc"))
    bare.setenv("RECRUITMENT_UNITS_FILE", str(tmp_path / "units.yaml"))
    bare.setenv("RECRUITMENT_INBOX", "s3://provinces/inbox")
    bare.setenv("RECRUITMENT_ARCHIVE", "s3://provinces/archive")
    bare.setenv("RECRUITMENT_RAW_FEEDS", str(tmp_path / "raw"))
    bare.setenv("RECRUITMENT_DATA_DOCS", str(tmp_path / "docs"))
    bare.setenv("RECRUITMENT_DATA_DOCS_URL", "https://quality.example.org/")
    bare.setenv("RECRUITMENT_FEED_DEMO_TOKEN", "s3cr3t-value")
    s = settings()
    assert s.sql_dir == tmp_path / "inc" / "sql"
    assert s.campaign_file == tmp_path / "inc" / "config" / "campaign.yaml"
    assert s.units_file == tmp_path / "units.yaml"
    assert (s.inbox, s.archive) == ("s3://provinces/inbox", "s3://provinces/archive")
    assert s.raw_feeds == tmp_path / "raw"
    assert s.data_docs == tmp_path / "docs"
    assert s.data_docs_url == "https://quality.example.org/"
    assert s.feed_demo_token.get_secret_value() == "s3cr3t-value"
    assert "s3cr3t" not in repr(s), "the token never shows in a log line"
    assert s.data_dir == ROOT / "data"


def test_an_empty_variable_counts_as_unset(bare):
    bare.setenv("RECRUITMENT_DATA_DIR", "")
    bare.setenv("RECRUITMENT_FEED_DEMO_TOKEN", "")
    assert settings().data_dir == ROOT / "data"
    assert settings().feed_demo_token is None


def test_a_change_of_the_environment_is_seen_at_the_next_call(bare, tmp_path):
    first = settings()
    assert settings() is first, "built once while the environment stays the same"
    bare.setenv("RECRUITMENT_DATA_DIR", str(tmp_path))
    assert settings().data_dir == tmp_path
    bare.delenv("RECRUITMENT_DATA_DIR")
    assert settings().data_dir == ROOT / "data"


def test_the_runtime_modules_take_their_paths_from_the_settings(bare, tmp_path):
    bare.setenv("RECRUITMENT_DATA_DIR", str(tmp_path / "data"))
    bare.setenv("RECRUITMENT_INBOX", str(tmp_path / "in"))
    bare.setenv("RECRUITMENT_DATA_DOCS_URL", "https://quality.example.org/")
    assert reports_pipeline.data_dir() == str(tmp_path / "data")
    assert reports_pipeline.inbox_url() == str(tmp_path / "in")
    assert reports_pipeline.archive_url() == str(tmp_path / "data" / "archive" / "reports")
    assert feeds_pipeline.raw_dir() == tmp_path / "data" / "raw" / "feeds"
    assert quality.data_docs_dir() == tmp_path / "data" / "datadocs"
    assert quality.data_docs_url() == "https://quality.example.org/"


def test_the_include_folder_serves_config_sql_suites_and_templates(bare, tmp_path):
    """A deployment's own include/ is read instead of the shipped one."""
    include = tmp_path / "include"
    (include / "sql").mkdir(parents=True)
    (include / "sql" / "probe.sql").write_text("SELECT :probe", encoding="utf-8")
    (include / "expectations").mkdir()
    (include / "expectations" / "probe.json").write_text('{"name": "probe"}', encoding="utf-8")
    (include / "templates" / "email").mkdir(parents=True)
    (include / "templates" / "email" / "probe.txt.j2").write_text("hello {{ who }}", encoding="utf-8")
    (include / "config").mkdir()
    units = (settings().config_dir / "units.yaml").read_text(encoding="utf-8")
    (include / "config" / "units.yaml").write_text(
        units.replace("新疆生产建设兵团", "生产建设兵团"), encoding="utf-8"
    )
    bare.setenv("RECRUITMENT_INCLUDE", str(include))
    assert warehouse.sql("probe") == "SELECT :probe"
    assert quality.load_suite("probe") == {"name": "probe"}
    assert messages.environment().get_template("probe.txt.j2").render(who="北京") == "hello 北京"
    assert render.environment().get_template("probe.txt.j2").render(who="上海") == "hello 上海"
    assert config.units().by_code()["660000"].name == "生产建设兵团"


# ---------------------------------------------------------------------------------- one place for paths

# A path worked out from a module's own location: Path(__file__)...parent(s), os.path.dirname(__file__).
_FROM_OWN_LOCATION = re.compile(r"__file__\W*\)?\s*(\.resolve\(\))?\s*\.parents?\b|dirname\([^)]*__file__")


def _product_modules() -> list[Path]:
    return sorted(PLUGINS.rglob("*.py"))


def test_no_product_module_works_out_a_path_from_its_own_location():
    offenders = []
    for path in _product_modules():
        text = path.read_text(encoding="utf-8")
        for number, line in enumerate(text.splitlines(), start=1):
            if _FROM_OWN_LOCATION.search(line) or "parents[" in line:
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "take the path from recruitment_month.settings:\n" + "\n".join(offenders)


def test_only_the_settings_read_the_environment_for_a_folder():
    """No module but the settings reads a RECRUITMENT_* folder variable itself."""
    folders = [name for name in VARIABLES if name != "RECRUITMENT_FEED_DEMO_TOKEN"]
    offenders = []
    for path in _product_modules():
        if path.name == "settings.py":
            continue
        text = path.read_text(encoding="utf-8")
        offenders += [f"{path.relative_to(ROOT)}: {name}" for name in folders if f'"{name}"' in text]
    assert not offenders, offenders


def test_the_check_catches_the_old_way():
    """The patterns above match what the modules used to write (a check that matches nothing proves nothing)."""
    for line in (
        "PROJECT_ROOT = Path(__file__).resolve().parents[2]",
        'MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"',
        "here = os.path.dirname(os.path.abspath(__file__))",
    ):
        assert _FROM_OWN_LOCATION.search(line), line
    assert not _FROM_OWN_LOCATION.search("digest.update(Path(__file__).read_bytes())")

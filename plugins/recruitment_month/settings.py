"""Where the product finds its files: one settings object, read from the environment.

Every folder and file the product uses comes from :func:`settings`; no other module works out a path
from its own location. Each setting is an environment variable with a default derived from the one
above it, so a deployment sets only what differs (docs/production.md lists them):

==============================  ==========================================  ================================
Variable                        Default                                     What
==============================  ==========================================  ================================
``RECRUITMENT_HOME``            the folder that holds ``plugins/``          the project root
``RECRUITMENT_INCLUDE``         ``<home>/include``                          config, SQL, templates, suites
``RECRUITMENT_CAMPAIGN_FILE``   ``<include>/config/campaign.yaml``          the campaign
``RECRUITMENT_UNITS_FILE``      ``<include>/config/units.yaml``             the 32 reporting units
``RECRUITMENT_PLATFORMS_FILE``  ``<include>/config/platforms.yaml``         the partner platforms
``RECRUITMENT_DATA_DIR``        ``<home>/data``                             the product's own files
``RECRUITMENT_INBOX``           ``<data>/inbox``                            where provinces upload (fsspec)
``RECRUITMENT_ARCHIVE``         ``<data>/archive/reports``                  every file received (fsspec)
``RECRUITMENT_RAW_FEEDS``       ``<data>/raw/feeds``                        the feed pages as received
``RECRUITMENT_DATA_DOCS``       ``<data>/datadocs``                         the Data Docs site
``RECRUITMENT_DATA_DOCS_URL``   ``file://<data docs>/index.html``           where people open it
``RECRUITMENT_FEED_DEMO_TOKEN`` (unset)                                     the simulator's token: dev only
==============================  ==========================================  ================================

An empty variable counts as unset. :func:`settings` reads the environment on every call (cheaply: the
object is rebuilt only when a ``RECRUITMENT_*`` variable changed), so a test that sets a variable sees
it at once.

Pure module: no Airflow import.
"""

from __future__ import annotations

import os
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PREFIX = "RECRUITMENT_"


def package_dir() -> Path:
    """The folder of the ``recruitment_month`` package (in ``plugins/``)."""
    return Path(str(files(__package__ or "recruitment_month")))


class Settings(BaseSettings):
    """The product's folders and files; each field is the environment variable ``RECRUITMENT_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, env_ignore_empty=True, frozen=True, extra="ignore")

    home: Path = Field(default_factory=lambda: package_dir().parent.parent)
    include: Path = Field(default_factory=lambda d: d["home"] / "include")
    campaign_file: Path = Field(default_factory=lambda d: d["include"] / "config" / "campaign.yaml")
    units_file: Path = Field(default_factory=lambda d: d["include"] / "config" / "units.yaml")
    platforms_file: Path = Field(default_factory=lambda d: d["include"] / "config" / "platforms.yaml")
    data_dir: Path = Field(default_factory=lambda d: d["home"] / "data")
    inbox: str = Field(default_factory=lambda d: str(d["data_dir"] / "inbox"))
    """A local folder or any fsspec URL (``s3://…``)."""
    archive: str = Field(default_factory=lambda d: str(d["data_dir"] / "archive" / "reports"))
    """A local folder or any fsspec URL."""
    raw_feeds: Path = Field(default_factory=lambda d: d["data_dir"] / "raw" / "feeds")
    data_docs: Path = Field(default_factory=lambda d: d["data_dir"] / "datadocs")
    data_docs_url: str = Field(default_factory=lambda d: (d["data_docs"] / "index.html").absolute().as_uri())
    feed_demo_token: SecretStr | None = None
    """The feed simulator's token for every platform without its own connection: set by the development
    environment and the compose file only, never in production (docs/production.md)."""

    @property
    def config_dir(self) -> Path:
        return self.include / "config"

    @property
    def sql_dir(self) -> Path:
        return self.include / "sql"

    @property
    def email_templates(self) -> Path:
        return self.include / "templates" / "email"

    @property
    def control_room_templates(self) -> Path:
        """The pages of the control room (the Airflow UI plugin)."""
        return self.include / "templates" / "control_room"

    @property
    def expectations_dir(self) -> Path:
        return self.include / "expectations"

    @property
    def plugins_dir(self) -> Path:
        """The folder to put on ``PYTHONPATH`` for ``import recruitment_month``."""
        return package_dir().parent

    @property
    def migrations_dir(self) -> Path:
        return package_dir() / "migrations"


@lru_cache(maxsize=32)
def _build(_environment: tuple[tuple[str, str], ...]) -> Settings:
    return Settings()


def settings() -> Settings:
    """The settings as the environment gives them now."""
    return _build(tuple(sorted((k, v) for k, v in os.environ.items() if k.upper().startswith(PREFIX))))

"""Where a platform's feed is and the bearer token it takes: ``platforms.yaml`` plus one secret.

A platform needs one entry in ``platforms.yaml`` (its ``base_url`` among the rest) and one secret: the
Airflow connection ``feed_<code>`` (its ``conn_id``), whose password is the token. Airflow finds the
connection wherever connections live: an ``AIRFLOW_CONN_FEED_<CODE>`` environment variable, the secrets
backend, the metadata database. Precedence:

* base URL: the connection's host when the connection exists and has one (a URL, or a host name with the
  connection's port), else ``base_url`` from ``platforms.yaml``;
* token: the connection's password, else ``RECRUITMENT_FEED_DEMO_TOKEN`` (the feed simulator's token,
  which only the development environment and the compose file set), else :class:`MissingFeedToken`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from recruitment_month.config import ConfigError
from recruitment_month.settings import settings

if TYPE_CHECKING:
    from recruitment_month.config import Platform


class MissingFeedToken(ConfigError):
    """A platform has no bearer token; the message names the platform and what to set."""


def resolve(platform: Platform) -> tuple[str, str]:
    """(base URL without a trailing slash, bearer token) of ``platform``."""
    conn = _connection(platform.conn_id)
    base_url = _host_url(conn) or platform.base_url
    token = (conn.password if conn else None) or _demo_token()
    if not token:
        variable = f"AIRFLOW_CONN_{platform.conn_id.upper()}"
        raise MissingFeedToken(
            f"platform {platform.code} ({platform.name}) has no feed token: set the Airflow connection "
            f"{platform.conn_id!r} with the token as its password, e.g. the environment variable "
            f"""{variable}='{{"conn_type": "http", "password": "<token>"}}' or the same connection in the """
            "secrets backend (docs/production.md)"
        )
    return base_url.rstrip("/"), token


def _connection(conn_id: str):
    """The Airflow connection ``conn_id``, or None when no connection of that name exists."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None


def _host_url(conn) -> str | None:
    host = ((conn.host if conn else None) or "").strip()
    if not host:
        return None
    if "://" in host:
        return host
    return f"http://{host}" + (f":{conn.port}" if conn.port else "")  # a bare host name: http


def _demo_token() -> str | None:
    token = settings().feed_demo_token
    return token.get_secret_value() if token else None

"""Warehouse access: the engine from the Airflow connection ``warehouse``, migrations, reference data.

PostgreSQL in production and CI, an SQLite file by default (docs/architecture.md). SQL that is more than a single
table operation lives in ``include/sql/`` and is read with :func:`sql`; values are always bind
parameters.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from recruitment_month.settings import settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)

WAREHOUSE_CONN_ID = "warehouse"
VERSION_TABLE = "audit_schema_version"


def url_from_connection(conn) -> str:
    """A SQLAlchemy URL for an Airflow connection of type ``sqlite`` or ``postgres``."""
    from sqlalchemy.engine import URL

    conn_type = (conn.conn_type or "").lower()
    if conn_type == "sqlite":
        if not conn.host:
            raise ValueError("the sqlite warehouse connection needs the database file path as its host")
        return f"sqlite:///{conn.host}"
    if conn_type in {"postgres", "postgresql"}:
        extra = conn.extra_dejson or {}
        query = {k: str(extra[k]) for k in ("sslmode", "options", "application_name") if extra.get(k)}
        return URL.create(
            "postgresql+psycopg",
            username=conn.login or None,
            password=conn.password or None,
            host=conn.host or None,
            port=conn.port or None,
            database=conn.schema or None,
            query=query,
        ).render_as_string(hide_password=False)
    raise ValueError(
        f"warehouse connection type {conn.conn_type!r} is not supported (use sqlite or postgres)"
    )


def warehouse_url(conn_id: str = WAREHOUSE_CONN_ID) -> str:
    from airflow.sdk import BaseHook

    return url_from_connection(BaseHook.get_connection(conn_id))


@cache
def _engine(url: str) -> Engine:
    from sqlalchemy import create_engine, event

    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def engine(url: str | None = None) -> Engine:
    """The warehouse engine (one per URL and process)."""
    return _engine(url or warehouse_url())


@contextmanager
def transaction(url: str | None = None) -> Iterator[Connection]:
    with engine(url).begin() as conn:
        yield conn


def sql(name: str) -> str:
    """The text of ``include/sql/<name>.sql``."""
    return _read(settings().sql_dir / f"{name}.sql")


@cache
def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(settings().migrations_dir))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str | None = None, revision: str = "head") -> None:
    """Bring the warehouse schema to ``revision``; applying it twice changes nothing."""
    from alembic import command

    url = url or warehouse_url()
    cfg = _alembic_config(url)
    with engine(url).begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def current_revision(url: str | None = None) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine(url).connect() as conn:
        return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()


def load_reference_data(url: str | None = None) -> dict[str, int]:
    """Upsert units, platforms and campaign weeks from configuration; rerunning changes nothing."""
    from recruitment_month import config, schema

    campaign = config.campaign()
    units = [
        {
            "code": u.code,
            "name": u.name,
            "name_en": u.name_en,
            "short_names": list(u.short_names),
            "contacts": list(u.contacts),
        }
        for u in config.units().units
    ]
    platforms = [
        {"code": p.code, "name": p.name, "base_url": p.base_url, "adapter": p.adapter}
        for p in config.platforms()
    ]
    weeks = [
        {
            "campaign_code": campaign.code,
            "week_ending": week,
            "week_number": number,
            "deadline_at": campaign.deadline(week).astimezone(UTC),
        }
        for number, week in enumerate(campaign.weeks, start=1)
    ]
    with transaction(url) as conn:
        upsert(conn, schema.core_unit, units, ["code"])
        upsert(conn, schema.core_platform, platforms, ["code"])
        upsert(conn, schema.core_campaign_week, weeks, ["campaign_code", "week_ending"])
    counts = {"units": len(units), "platforms": len(platforms), "weeks": len(weeks)}
    log.info("Reference data loaded: %s", counts)
    return counts


def _insert(conn: Connection, table):
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def upsert(conn: Connection, table, rows: list[dict], keys: list[str]) -> None:
    """INSERT … ON CONFLICT (keys) DO UPDATE, for PostgreSQL and SQLite alike."""
    if not rows:
        return
    stmt = _insert(conn, table)
    updates = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
    if updates:
        stmt = stmt.on_conflict_do_update(index_elements=keys, set_=updates)
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=keys)
    conn.execute(stmt, rows)


def insert_ignore(conn: Connection, table, rows: list[dict], keys: list[str]) -> None:
    """INSERT … ON CONFLICT (keys) DO NOTHING, for PostgreSQL and SQLite alike."""
    if rows:
        conn.execute(_insert(conn, table).on_conflict_do_nothing(index_elements=keys), rows)


def utcnow() -> datetime:
    return datetime.now(UTC)


def main() -> None:
    """``python -m recruitment_month.warehouse``: migrate and load reference data (``make migrate``).

    The settings come from the environment only (the Makefile applies ``include/config/dev.env`` first)."""
    url = warehouse_url()
    migrate(url)
    load_reference_data(url)
    print(f"warehouse at revision {current_revision(url)}: {url.split('@')[-1]}")


if __name__ == "__main__":
    main()

"""Warehouse: migrations from empty on SQLite and PostgreSQL, idempotent; metadata matches; reference data."""

from __future__ import annotations

import json

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, inspect, select

from recruitment_month import schema, warehouse


def _snapshot(url: str) -> dict:
    insp = inspect(warehouse.engine(url))
    return {
        t: sorted((c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns(t))
        for t in sorted(insp.get_table_names())
    }


def test_migrations_from_empty_create_every_layer_and_apply_twice(empty_warehouse):
    assert _snapshot(empty_warehouse) == {}
    warehouse.migrate(empty_warehouse)
    first = _snapshot(empty_warehouse)
    warehouse.migrate(empty_warehouse)
    assert _snapshot(empty_warehouse) == first
    assert warehouse.current_revision(empty_warehouse) is not None
    prefixes = {name.split("_", 1)[0] for name in first}
    assert {"core", "audit"} <= prefixes
    assert set(schema.metadata.tables) <= set(first)
    assert inspect(warehouse.engine(empty_warehouse)).get_view_names() == ["core_posting_job"]


def test_migrated_database_matches_the_metadata(empty_warehouse):
    warehouse.migrate(empty_warehouse)
    with warehouse.engine(empty_warehouse).connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": False, "version_table": warehouse.VERSION_TABLE}
        )
        diff = compare_metadata(context, schema.metadata)
    assert diff == []


def test_reference_data_loads_idempotently(warehouse_url):
    warehouse.load_reference_data(warehouse_url)  # the fixture loaded it once already
    with warehouse.engine(warehouse_url).connect() as conn:
        counts = {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (schema.core_unit, schema.core_platform, schema.core_campaign_week)
        }
        bingtuan = (
            conn.execute(select(schema.core_unit).where(schema.core_unit.c.code == "660000")).mappings().one()
        )
        first_week = (
            conn.execute(select(schema.core_campaign_week).order_by("week_ending")).mappings().first()
        )
    assert counts == {"core_unit": 32, "core_platform": 12, "core_campaign_week": 8}
    assert bingtuan["name"] == "新疆生产建设兵团"
    assert "兵团" in bingtuan["short_names"]
    assert first_week["deadline_at"].isoformat() == "2022-11-11T09:00:00+00:00"


def test_timestamps_must_be_timezone_aware(warehouse_url):
    from datetime import UTC, datetime

    naive = datetime(2022, 11, 11, 9, 0, tzinfo=UTC).replace(tzinfo=None)  # what the warehouse refuses

    with pytest.raises(Exception, match="naive datetime"), warehouse.transaction(warehouse_url) as conn:
        conn.execute(
            schema.audit_load.insert(),
            {
                "load_key": "x",
                "dag_id": "d",
                "task_id": "t",
                "subject": "s",
                "counts": {},
                "finished_at": naive,
            },
        )


def test_connection_urls():
    from types import SimpleNamespace

    sqlite = SimpleNamespace(conn_type="sqlite", host="/tmp/x.db")
    assert warehouse.url_from_connection(sqlite) == "sqlite:////tmp/x.db"
    pg = SimpleNamespace(
        conn_type="postgres",
        host="db",
        port=5432,
        login="etl",
        password="p@ss/word",
        schema="warehouse",
        extra_dejson={"sslmode": "require"},
    )
    url = warehouse.url_from_connection(pg)
    assert url == "postgresql+psycopg://etl:p%40ss%2Fword@db:5432/warehouse?sslmode=require"
    with pytest.raises(ValueError, match="not supported"):
        warehouse.url_from_connection(SimpleNamespace(conn_type="mysql"))


def test_engine_comes_from_the_airflow_connection(monkeypatch, tmp_path):
    path = tmp_path / "w.db"
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", json.dumps({"conn_type": "sqlite", "host": str(path)}))
    assert warehouse.warehouse_url() == f"sqlite:///{path}"


def test_seen_times_move_to_their_own_table_and_back(empty_warehouse):
    """0004 moves each posting's first/last seen into core_posting_seen; its downgrade moves them back."""
    from datetime import UTC, datetime

    from alembic import command
    from sqlalchemy import column, insert, table, text

    warehouse.migrate(empty_warehouse, "0003")
    first, last = datetime(2022, 11, 1, tzinfo=UTC), datetime(2022, 11, 8, tzinfo=UTC)
    columns = {
        "platform_code": "zhilian",
        "posting_id": "ZH1",
        "title": "会计",
        "title_key": "会计",
        "employer_name": "某公司",
        "openings": 1,
        "modified_at": first,
        "content_hash": "h",
        "cluster_id": "c",
        "first_seen_at": first,
        "last_seen_at": last,
        "load_id": "L",
    }
    old_posting = table(
        "core_posting",
        *(column(c, schema.UTCDateTime if c.endswith("_at") else None) for c in columns),
    )
    engine = warehouse.engine(empty_warehouse)
    with engine.begin() as conn:
        conn.execute(insert(old_posting), columns)
    warehouse.migrate(empty_warehouse)
    with engine.connect() as conn:
        seen = conn.execute(select(schema.core_posting_seen)).mappings().one()
    assert (seen["posting_id"], seen["first_seen_at"], seen["last_seen_at"], seen["item_hash"]) == (
        "ZH1",
        first,
        last,
        None,
    )
    cfg = warehouse._alembic_config(empty_warehouse)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0003")
    with engine.connect() as conn:
        back = conn.execute(text("SELECT first_seen_at, last_seen_at FROM core_posting")).one()
    assert [schema.UTCDateTime().process_result_value(v, engine.dialect) for v in back] == [first, last]


def test_inbox_accounting_keeps_old_files_and_downgrades(empty_warehouse):
    """0009: a file registered before keeps its landing time as the storage's time; the downgrade drops
    the poll and skip tables and the files refused unread (the old schema cannot hold them)."""
    from datetime import UTC, datetime

    from alembic import command
    from sqlalchemy import column, insert, inspect, table, text

    warehouse.migrate(empty_warehouse, "0006")
    landed = datetime(2022, 11, 11, 1, tzinfo=UTC)
    old = {
        "file_id": "110000/" + "a" * 64,
        "unit_folder": "110000",
        "sha256": "a" * 64,
        "file_name": "a.json",
        "size_bytes": 10,
        "landed_at": landed,
        "first_seen_at": landed,
        "archive_uri": "/archive/aa/" + "a" * 64,
        "status": "accepted",
    }
    old_file = table(
        "audit_inbox_file", *(column(c, schema.UTCDateTime if c.endswith("_at") else None) for c in old)
    )
    engine = warehouse.engine(empty_warehouse)
    with engine.begin() as conn:
        conn.execute(insert(old_file), old)
    warehouse.migrate(empty_warehouse)
    with engine.begin() as conn:
        row = conn.execute(select(schema.audit_inbox_file)).mappings().one()
        assert row["modified_at"] == row["landed_at"] == landed
        assert row["previous_poll_at"] is None
        refused = dict(old, file_id="110000/" + "b" * 64, sha256=None, archive_uri=None, modified_at=landed)
        refused["status"] = "rejected"
        conn.execute(schema.audit_inbox_file.insert(), refused)
    cfg = warehouse._alembic_config(empty_warehouse)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0006")
    with engine.connect() as conn:
        ids = conn.execute(text("SELECT file_id FROM audit_inbox_file")).scalars().all()
    assert ids == [old["file_id"]]
    names = set(inspect(engine).get_table_names())
    assert not {"audit_inbox_poll", "audit_inbox_skip"} & names

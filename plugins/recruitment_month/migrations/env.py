"""Alembic environment for the warehouse. Run through ``recruitment_month.warehouse.migrate``."""

from alembic import context
from sqlalchemy import create_engine

from recruitment_month.schema import metadata
from recruitment_month.warehouse import VERSION_TABLE

config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_with(connection)
        return
    with create_engine(config.get_main_option("sqlalchemy.url")).begin() as conn:
        _run_with(conn)


def _run_with(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        version_table=VERSION_TABLE,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run()

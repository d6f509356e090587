"""Job feeds: when postings were seen moves to a narrow table, with the hash of the item last delivered.

Every delivery of a posting moves its last-seen time, and most deliveries change nothing else. In
``core_posting`` (a wide row with the description) that rewrote the whole row each time; in
``core_posting_seen`` it rewrites a few dozen bytes (fillfactor 70 on PostgreSQL keeps the updates
HOT). ``item_hash`` (the feed item as received, with the normalisation rules) lets a load recognise an
item identical to the one delivered last and skip normalising and validating it again. The index on
``core_posting.cluster_id`` goes: no query looks postings up by cluster.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 11:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "core_posting_seen",
        sa.Column("platform_code", sa.String(length=32), nullable=False),
        sa.Column("posting_id", sa.String(length=200), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("item_hash", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("platform_code", "posting_id"),
        postgresql_with={"fillfactor": 70},
    )
    op.execute(
        "INSERT INTO core_posting_seen (platform_code, posting_id, first_seen_at, last_seen_at) "
        "SELECT platform_code, posting_id, first_seen_at, last_seen_at FROM core_posting"
    )
    # No query looks postings up by cluster (reports group them all), and the index cost every insert.
    op.drop_index("ix_core_posting_cluster_id", table_name="core_posting")
    with op.batch_alter_table("core_posting", schema=None) as batch_op:
        batch_op.drop_column("first_seen_at")
        batch_op.drop_column("last_seen_at")
    with op.batch_alter_table("stg_posting", schema=None) as batch_op:
        batch_op.add_column(sa.Column("item_hash", sa.String(length=32), nullable=True))
    op.create_table(
        "stg_posting_seen",
        sa.Column("load_id", sa.String(length=120), nullable=False),
        sa.Column("platform_code", sa.String(length=32), nullable=False),
        sa.Column("posting_id", sa.String(length=200), nullable=False),
        sa.Column("item_hash", sa.String(length=32), nullable=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        prefixes=["UNLOGGED"] if postgres else [],
    )
    with op.batch_alter_table("stg_posting_seen", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stg_posting_seen_load_id"), ["load_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("stg_posting_seen", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stg_posting_seen_load_id"))
    op.drop_table("stg_posting_seen")
    with op.batch_alter_table("stg_posting", schema=None) as batch_op:
        batch_op.drop_column("item_hash")
    with op.batch_alter_table("core_posting", schema=None) as batch_op:
        batch_op.add_column(sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE core_posting SET "
        "first_seen_at = (SELECT s.first_seen_at FROM core_posting_seen AS s "
        "WHERE s.platform_code = core_posting.platform_code AND s.posting_id = core_posting.posting_id), "
        "last_seen_at = (SELECT s.last_seen_at FROM core_posting_seen AS s "
        "WHERE s.platform_code = core_posting.platform_code AND s.posting_id = core_posting.posting_id)"
    )
    with op.batch_alter_table("core_posting", schema=None) as batch_op:
        batch_op.alter_column("first_seen_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.alter_column("last_seen_at", existing_type=sa.DateTime(timezone=True), nullable=False)
    op.create_index("ix_core_posting_cluster_id", "core_posting", ["cluster_id"])
    op.drop_table("core_posting_seen")

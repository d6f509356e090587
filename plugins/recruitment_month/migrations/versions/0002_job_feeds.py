"""Job feeds: staging (unlogged on PostgreSQL), postings with versions, quarantine.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 09:34:01.872288
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_feed_quarantine",
        sa.Column("load_id", sa.String(length=120), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("platform_code", sa.String(length=32), nullable=False),
        sa.Column("posting_id", sa.String(length=200), nullable=True),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("field", sa.Text(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("load_id", "seq"),
    )
    op.create_table(
        "core_posting",
        sa.Column("platform_code", sa.String(length=32), nullable=False),
        sa.Column("posting_id", sa.String(length=200), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("title_key", sa.Text(), nullable=False),
        sa.Column("employer_name", sa.Text(), nullable=False),
        sa.Column("employer_credit_code", sa.String(length=18), nullable=True),
        sa.Column("province_code", sa.String(length=6), nullable=True),
        sa.Column("city", sa.Text(), nullable=True),
        sa.Column("industry_category", sa.String(length=16), nullable=True),
        sa.Column("education_level", sa.String(length=16), nullable=True),
        sa.Column("employment_type", sa.String(length=16), nullable=True),
        sa.Column("salary_min", sa.Integer(), nullable=True),
        sa.Column("salary_max", sa.Integer(), nullable=True),
        sa.Column("openings", sa.Integer(), nullable=False),
        sa.Column("date_posted", sa.Date(), nullable=True),
        sa.Column("valid_through", sa.DateTime(timezone=True), nullable=True),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("content_hash", sa.String(length=32), nullable=False),
        sa.Column("cluster_id", sa.String(length=24), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("load_id", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("platform_code", "posting_id"),
    )
    op.create_index("ix_core_posting_cluster_id", "core_posting", ["cluster_id"])
    op.create_table(
        "core_posting_version",
        sa.Column("platform_code", sa.String(length=32), nullable=False),
        sa.Column("posting_id", sa.String(length=200), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content_hash", sa.String(length=32), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("salary_min", sa.Integer(), nullable=True),
        sa.Column("salary_max", sa.Integer(), nullable=True),
        sa.Column("openings", sa.Integer(), nullable=False),
        sa.Column("valid_through", sa.DateTime(timezone=True), nullable=True),
        sa.Column("load_id", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("platform_code", "posting_id", "modified_at"),
    )
    op.create_table(
        "stg_posting",
        sa.Column("load_id", sa.String(length=120), nullable=False),
        sa.Column("platform_code", sa.String(length=32), nullable=False),
        sa.Column("posting_id", sa.String(length=200), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("title_key", sa.Text(), nullable=False),
        sa.Column("employer_name", sa.Text(), nullable=False),
        sa.Column("employer_credit_code", sa.String(length=18), nullable=True),
        sa.Column("province_code", sa.String(length=6), nullable=True),
        sa.Column("city", sa.Text(), nullable=True),
        sa.Column("industry_category", sa.String(length=16), nullable=True),
        sa.Column("education_level", sa.String(length=16), nullable=True),
        sa.Column("employment_type", sa.String(length=16), nullable=True),
        sa.Column("salary_min", sa.Integer(), nullable=True),
        sa.Column("salary_max", sa.Integer(), nullable=True),
        sa.Column("openings", sa.Integer(), nullable=False),
        sa.Column("date_posted", sa.Date(), nullable=True),
        sa.Column("valid_through", sa.DateTime(timezone=True), nullable=True),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("content_hash", sa.String(length=32), nullable=False),
        sa.Column("cluster_id", sa.String(length=24), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        prefixes=["UNLOGGED"] if op.get_bind().dialect.name == "postgresql" else [],
    )
    with op.batch_alter_table("stg_posting", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stg_posting_load_id"), ["load_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("stg_posting", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stg_posting_load_id"))

    op.drop_table("stg_posting")
    op.drop_table("core_posting_version")
    op.drop_index("ix_core_posting_cluster_id", table_name="core_posting")
    op.drop_table("core_posting")
    op.drop_table("audit_feed_quarantine")

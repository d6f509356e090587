"""Job feeds: fuzzy links between the deterministic clusters of postings (``feeds/linkage.py``).

``core_posting_link`` holds one row per posting: what blocking needs (province, employer name key, credit
code), the cluster the posting had when it was linked, and ``match_id`` — the representative cluster of
the group of clusters it was linked to across platforms (NULL when none). Loads never write it, so the
links survive reloads; the ``link`` task of ``job_feeds`` fills it (the first run builds it in full).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "core_posting_link",
        sa.Column("platform_code", sa.String(length=32), nullable=False),
        sa.Column("posting_id", sa.String(length=200), nullable=False),
        sa.Column("cluster_id", sa.String(length=24), nullable=False),
        sa.Column("province_code", sa.String(length=6), nullable=True),
        sa.Column("employer_key", sa.Text(), nullable=False),
        sa.Column("employer_credit_code", sa.String(length=18), nullable=True),
        sa.Column("match_id", sa.String(length=24), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("platform_code", "posting_id"),
    )
    with op.batch_alter_table("core_posting_link", schema=None) as batch_op:
        batch_op.create_index(
            "ix_core_posting_link_employer", ["province_code", "employer_key"], unique=False
        )
        batch_op.create_index(
            "ix_core_posting_link_credit_code", ["province_code", "employer_credit_code"], unique=False
        )
        batch_op.create_index("ix_core_posting_link_match_id", ["match_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("core_posting_link", schema=None) as batch_op:
        batch_op.drop_index("ix_core_posting_link_match_id")
        batch_op.drop_index("ix_core_posting_link_credit_code")
        batch_op.drop_index("ix_core_posting_link_employer")
    op.drop_table("core_posting_link")

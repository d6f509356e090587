"""Provincial inbox: every poll and every entry that is not a report file are recorded; a file's
landing time cannot precede the poll before the one that first saw it; a file can be refused unread.

``audit_inbox_poll`` holds one row per poll of the inbox. ``audit_inbox_skip`` holds each inbox entry
that was not registered as a report file, with the reason (temporary upload, Office lock file, link,
outside a unit's folder, content already received, archive failed), keyed by its listing so that reruns
update it. ``audit_inbox_file`` gains the storage's own time (``modified_at``; for the rows already
there it is their ``landed_at``, which was that time), the previous poll's time and the first poll; its
``sha256`` and ``archive_uri`` may be empty for a file refused before it was read (too large).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 22:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_inbox_poll",
        sa.Column("poll_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("polled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("listed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.Text(), nullable=True),
        sa.Column("files", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("poll_id"),
    )
    op.create_table(
        "audit_inbox_skip",
        sa.Column("entry_key", sa.String(length=64), nullable=False),
        sa.Column("unit_folder", sa.Text(), nullable=True),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_poll_id", sa.Integer(), nullable=False),
        sa.Column("last_poll_id", sa.Integer(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("polls", sa.Integer(), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("entry_key"),
    )
    with op.batch_alter_table("audit_inbox_file", schema=None) as batch_op:
        batch_op.add_column(sa.Column("modified_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("previous_poll_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("first_poll_id", sa.Integer(), nullable=True))
    # Until now the landing time was the storage's time, unchanged.
    op.execute("UPDATE audit_inbox_file SET modified_at = landed_at")
    with op.batch_alter_table("audit_inbox_file", schema=None) as batch_op:
        batch_op.alter_column("modified_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.alter_column("sha256", existing_type=sa.String(length=64), nullable=True)
        batch_op.alter_column("archive_uri", existing_type=sa.Text(), nullable=True)


def downgrade() -> None:
    # Files refused unread have neither hash nor archive copy: the old schema cannot hold them.
    op.execute(
        "DELETE FROM audit_report_problem WHERE file_id IN "
        "(SELECT file_id FROM audit_inbox_file WHERE sha256 IS NULL OR archive_uri IS NULL)"
    )
    op.execute("DELETE FROM audit_inbox_file WHERE sha256 IS NULL OR archive_uri IS NULL")
    with op.batch_alter_table("audit_inbox_file", schema=None) as batch_op:
        batch_op.alter_column("archive_uri", existing_type=sa.Text(), nullable=False)
        batch_op.alter_column("sha256", existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_column("first_poll_id")
        batch_op.drop_column("previous_poll_at")
        batch_op.drop_column("modified_at")
    op.drop_table("audit_inbox_skip")
    op.drop_table("audit_inbox_poll")

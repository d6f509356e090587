"""The notification ledger becomes an outbox; a file's processing attempts are counted.

``audit_notification`` keeps the whole message (``body``: the MIME bytes of an email, the JSON of a
chat message) from the moment it is decided, so any later run can send it: ``channel`` says how it
goes out, ``owner`` which DAG delivers it, ``claimed_at`` when a delivery took it (a claim older than
the lease is taken over). Statuses: pending | sending | sent | failed | undeliverable.

``audit_inbox_file.attempts`` / ``last_error``: how often processing a file was started and why the
last attempt broke, so a file that breaks the parser is quarantined after a bounded number of tries
instead of failing every run.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 22:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_notification", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("channel", sa.String(length=12), nullable=False, server_default="email")
        )
        batch_op.add_column(sa.Column("owner", sa.String(length=40), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("body", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_audit_notification_status", ["status", "created_at"], unique=False)
    with op.batch_alter_table("audit_inbox_file", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("last_error", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_inbox_file", schema=None) as batch_op:
        batch_op.drop_column("last_error")
        batch_op.drop_column("attempts")
    with op.batch_alter_table("audit_notification", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_notification_status")
        batch_op.drop_column("claimed_at")
        batch_op.drop_column("body")
        batch_op.drop_column("owner")
        batch_op.drop_column("channel")

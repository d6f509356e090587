"""The campaign control room: exemptions of a unit for a week, and the audit of every change made there.

``core_unit_exemption`` holds one row per (campaign, week, unit) that ministry staff excused from
reporting, with the reason and who decided it: such a unit is neither missing nor reminded, and the
summary shows it as exempt. ``audit_control_action`` records every change made in the control room
(an exemption set or lifted, a message resent): what, on what, by whom, when, and why.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 01:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "core_unit_exemption",
        sa.Column("campaign_code", sa.String(length=32), nullable=False),
        sa.Column("week_ending", sa.Date(), nullable=False),
        sa.Column("unit_code", sa.String(length=6), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("granted_by", sa.Text(), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("campaign_code", "week_ending", "unit_code"),
    )
    op.create_table(
        "audit_control_action",
        sa.Column("action_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("acted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("action_id"),
    )


def downgrade() -> None:
    op.drop_table("audit_control_action")
    op.drop_table("core_unit_exemption")

"""Mart: every version of the weekly summary, by unit and national.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 09:40:55.448675
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mart_summary_national",
        sa.Column("campaign_code", sa.String(length=32), nullable=False),
        sa.Column("week_ending", sa.Date(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("measure", sa.String(length=40), nullable=False),
        sa.Column("week_value", sa.BigInteger(), nullable=False),
        sa.Column("cumulative_value", sa.BigInteger(), nullable=False),
        sa.Column("previous_week_value", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("campaign_code", "week_ending", "version", "measure"),
    )
    op.create_table(
        "mart_summary_unit",
        sa.Column("campaign_code", sa.String(length=32), nullable=False),
        sa.Column("week_ending", sa.Date(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("unit_code", sa.String(length=6), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("landed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=True),
        sa.Column("warnings", sa.Integer(), nullable=False),
        sa.Column("job_fairs_online", sa.BigInteger(), nullable=True),
        sa.Column("job_fairs_offline", sa.BigInteger(), nullable=True),
        sa.Column("campus_events", sa.BigInteger(), nullable=True),
        sa.Column("employers", sa.BigInteger(), nullable=True),
        sa.Column("positions", sa.BigInteger(), nullable=True),
        sa.Column("graduates", sa.BigInteger(), nullable=True),
        sa.Column("employers_registered", sa.BigInteger(), nullable=True),
        sa.Column("enterprise_visits", sa.BigInteger(), nullable=True),
        sa.Column("positions_from_visits", sa.BigInteger(), nullable=True),
        sa.Column("guidance_sessions", sa.BigInteger(), nullable=True),
        sa.Column("guidance_participants", sa.BigInteger(), nullable=True),
        sa.Column("hongzhi_trainees", sa.BigInteger(), nullable=True),
        sa.Column("key_group_fairs", sa.BigInteger(), nullable=True),
        sa.Column("matching_projects", sa.BigInteger(), nullable=True),
        sa.Column("job_fairs_online_cumulative", sa.BigInteger(), nullable=True),
        sa.Column("job_fairs_offline_cumulative", sa.BigInteger(), nullable=True),
        sa.Column("campus_events_cumulative", sa.BigInteger(), nullable=True),
        sa.Column("employers_cumulative", sa.BigInteger(), nullable=True),
        sa.Column("positions_cumulative", sa.BigInteger(), nullable=True),
        sa.Column("graduates_cumulative", sa.BigInteger(), nullable=True),
        sa.Column("employers_registered_cumulative", sa.BigInteger(), nullable=True),
        sa.Column("enterprise_visits_cumulative", sa.BigInteger(), nullable=True),
        sa.Column("positions_from_visits_cumulative", sa.BigInteger(), nullable=True),
        sa.Column("guidance_sessions_cumulative", sa.BigInteger(), nullable=True),
        sa.Column("guidance_participants_cumulative", sa.BigInteger(), nullable=True),
        sa.Column("hongzhi_trainees_cumulative", sa.BigInteger(), nullable=True),
        sa.Column("key_group_fairs_cumulative", sa.BigInteger(), nullable=True),
        sa.Column("matching_projects_cumulative", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("campaign_code", "week_ending", "version", "unit_code"),
    )
    op.create_table(
        "mart_weekly_summary",
        sa.Column("campaign_code", sa.String(length=32), nullable=False),
        sa.Column("week_ending", sa.Date(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("expected", sa.Integer(), nullable=False),
        sa.Column("reported", sa.Integer(), nullable=False),
        sa.Column("on_time", sa.Integer(), nullable=False),
        sa.Column("late", sa.Integer(), nullable=False),
        sa.Column("missing", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("reporting_rate", sa.Float(), nullable=False),
        sa.Column("on_time_rate", sa.Float(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("campaign_code", "week_ending", "version"),
    )


def downgrade() -> None:
    op.drop_table("mart_weekly_summary")
    op.drop_table("mart_summary_unit")
    op.drop_table("mart_summary_national")

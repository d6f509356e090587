"""The ministry's summary emails are recorded with their sign-off; revisions are mailed as digests.

``mart_summary_mailing`` holds one row per summary email decided for the ministry — the preliminary
version of a week, or one day's digest of its revisions — with the version it holds, the version its
changes are counted from, and its sign-off: who answered (the reviewer's Airflow user), when, with what
comment, or what the campaign's timeout policy decided. ``audit_notification`` gains the status
*held* (a summary waiting for sign-off); the column is wide enough already. The versions already
mailed are recorded as mailed without sign-off.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 01:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mart_summary_mailing",
        sa.Column("message_key", sa.String(length=300), nullable=False),
        sa.Column("campaign_code", sa.String(length=32), nullable=False),
        sa.Column("week_ending", sa.Date(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("digest_date", sa.Date(), nullable=True),
        sa.Column("base_version", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sign_off", sa.String(length=24), nullable=False),
        sa.Column("signed_off_by", sa.Text(), nullable=True),
        sa.Column("signed_off_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sign_off_comment", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("message_key"),
    )
    op.create_index(
        "ix_mart_summary_mailing_week",
        "mart_summary_mailing",
        ["campaign_code", "week_ending", "version"],
        unique=False,
    )

    # The versions mailed before: each one's email was sent as it was stored, without sign-off.
    op.execute(
        "INSERT INTO mart_summary_mailing (message_key, campaign_code, week_ending, version, kind, "
        "created_at, sign_off) "
        "SELECT n.message_key, s.campaign_code, s.week_ending, s.version, "
        "CASE WHEN s.version = 1 THEN 'preliminary' ELSE 'digest' END, n.created_at, 'not_required' "
        "FROM mart_weekly_summary s JOIN audit_notification n ON n.message_key = "
        "'weekly_summary/' || CAST(s.week_ending AS TEXT) || '/v' || CAST(s.version AS TEXT)"
    )


def downgrade() -> None:
    # A summary still held for sign-off has no place in the old outbox: it goes out with the next run.
    op.execute("UPDATE audit_notification SET status = 'pending' WHERE status = 'held'")
    op.drop_index("ix_mart_summary_mailing_week", table_name="mart_summary_mailing")
    op.drop_table("mart_summary_mailing")

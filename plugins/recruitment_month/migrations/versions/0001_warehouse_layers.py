"""Warehouse layers: reference data, inbox files, reports with revisions, audit (quality, loads, ledger).

Revision ID: 0001
Revises:
Create Date: 2026-11-28 09:22:44.248383
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_inbox_file",
        sa.Column("file_id", sa.String(length=80), nullable=False),
        sa.Column("unit_folder", sa.String(length=64), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("landed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("archive_uri", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("unit_code", sa.String(length=6), nullable=True),
        sa.Column("week_ending", sa.Date(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("run_id", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("file_id"),
    )
    op.create_table(
        "audit_load",
        sa.Column("load_key", sa.String(length=200), nullable=False),
        sa.Column("dag_id", sa.String(length=100), nullable=False),
        sa.Column("task_id", sa.String(length=100), nullable=False),
        sa.Column("subject", sa.String(length=100), nullable=False),
        sa.Column("interval_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("interval_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("load_key"),
    )
    op.create_table(
        "audit_notification",
        sa.Column("message_key", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("subject_ref", sa.String(length=120), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("message_key"),
    )
    op.create_table(
        "audit_quality_run",
        sa.Column("run_key", sa.String(length=200), nullable=False),
        sa.Column("suite", sa.String(length=100), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("evaluated_expectations", sa.Integer(), nullable=False),
        sa.Column("failed_expectations", sa.Integer(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("failed_rows", sa.Integer(), nullable=False),
        sa.Column("results", sa.JSON(), nullable=False),
        sa.Column("validated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("run_key"),
    )
    op.create_table(
        "audit_report_problem",
        sa.Column("file_id", sa.String(length=80), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("field", sa.Text(), nullable=True),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("row_number", sa.Integer(), nullable=True),
        sa.Column("cell", sa.String(length=16), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("file_id", "seq"),
    )
    op.create_table(
        "core_campaign_week",
        sa.Column("campaign_code", sa.String(length=32), nullable=False),
        sa.Column("week_ending", sa.Date(), nullable=False),
        sa.Column("week_number", sa.Integer(), nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("campaign_code", "week_ending"),
    )
    op.create_table(
        "core_platform",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("base_url", sa.Text(), nullable=False),
        sa.Column("adapter", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "core_report",
        sa.Column("unit_code", sa.String(length=6), nullable=False),
        sa.Column("week_ending", sa.Date(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("file_id", sa.String(length=80), nullable=False),
        sa.Column("landed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("timeliness", sa.String(length=8), nullable=False),
        sa.Column("contact_name", sa.Text(), nullable=True),
        sa.Column("contact_phone", sa.Text(), nullable=True),
        sa.Column("highlights", sa.Text(), nullable=True),
        sa.Column("problems", sa.Text(), nullable=True),
        sa.Column("job_fairs_online", sa.BigInteger(), nullable=False),
        sa.Column("job_fairs_offline", sa.BigInteger(), nullable=False),
        sa.Column("campus_events", sa.BigInteger(), nullable=False),
        sa.Column("employers", sa.BigInteger(), nullable=False),
        sa.Column("positions", sa.BigInteger(), nullable=False),
        sa.Column("graduates", sa.BigInteger(), nullable=False),
        sa.Column("employers_registered", sa.BigInteger(), nullable=False),
        sa.Column("enterprise_visits", sa.BigInteger(), nullable=False),
        sa.Column("positions_from_visits", sa.BigInteger(), nullable=False),
        sa.Column("guidance_sessions", sa.BigInteger(), nullable=False),
        sa.Column("guidance_participants", sa.BigInteger(), nullable=False),
        sa.Column("hongzhi_trainees", sa.BigInteger(), nullable=False),
        sa.Column("key_group_fairs", sa.BigInteger(), nullable=False),
        sa.Column("matching_projects", sa.BigInteger(), nullable=False),
        sa.Column("job_fairs_online_cumulative", sa.BigInteger(), nullable=False),
        sa.Column("job_fairs_offline_cumulative", sa.BigInteger(), nullable=False),
        sa.Column("campus_events_cumulative", sa.BigInteger(), nullable=False),
        sa.Column("employers_cumulative", sa.BigInteger(), nullable=False),
        sa.Column("positions_cumulative", sa.BigInteger(), nullable=False),
        sa.Column("graduates_cumulative", sa.BigInteger(), nullable=False),
        sa.Column("employers_registered_cumulative", sa.BigInteger(), nullable=False),
        sa.Column("enterprise_visits_cumulative", sa.BigInteger(), nullable=False),
        sa.Column("positions_from_visits_cumulative", sa.BigInteger(), nullable=False),
        sa.Column("guidance_sessions_cumulative", sa.BigInteger(), nullable=False),
        sa.Column("guidance_participants_cumulative", sa.BigInteger(), nullable=False),
        sa.Column("hongzhi_trainees_cumulative", sa.BigInteger(), nullable=False),
        sa.Column("key_group_fairs_cumulative", sa.BigInteger(), nullable=False),
        sa.Column("matching_projects_cumulative", sa.BigInteger(), nullable=False),
        sa.Column("warning_count", sa.Integer(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("unit_code", "week_ending", "revision"),
        sa.UniqueConstraint("file_id"),
    )
    op.create_table(
        "core_unit",
        sa.Column("code", sa.String(length=6), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
        sa.Column("short_names", sa.JSON(), nullable=False),
        sa.Column("contacts", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )


def downgrade() -> None:
    op.drop_table("core_unit")
    op.drop_table("core_report")
    op.drop_table("core_platform")
    op.drop_table("core_campaign_week")
    op.drop_table("audit_report_problem")
    op.drop_table("audit_quality_run")
    op.drop_table("audit_notification")
    op.drop_table("audit_load")
    op.drop_table("audit_inbox_file")

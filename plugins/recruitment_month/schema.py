"""The warehouse tables, as SQLAlchemy Core metadata (docs/architecture.md, the warehouse).

Layers are table-name prefixes so that one schema runs unchanged on PostgreSQL and SQLite:
``stg_`` staging (typed, per load), ``core_`` reports with revisions, postings with history and
reference data, ``mart_`` what emails and dashboards read, ``audit_`` loads, quality results,
rejections and the notification ledger. Raw files and pages live outside the database.

The migrations in ``migrations/versions`` create these tables; ``tests/test_warehouse.py`` proves
that the migrated database and this metadata agree.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.sql.expression import false
from sqlalchemy.types import TypeDecorator

from recruitment_month.reports.fields import COUNT_KEYS


class UTCDateTime(TypeDecorator):
    """Timezone-aware timestamps stored as UTC on both databases (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the warehouse stores timezone-aware timestamps")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

core_unit = Table(
    "core_unit",
    metadata,
    Column("code", String(6), primary_key=True),
    Column("name", Text, nullable=False),
    Column("name_en", Text, nullable=False),
    Column("short_names", JSON, nullable=False),
    Column("contacts", JSON, nullable=False),
)

core_platform = Table(
    "core_platform",
    metadata,
    Column("code", String(32), primary_key=True),
    Column("name", Text, nullable=False),
    Column("base_url", Text, nullable=False),
    Column("adapter", String(16), nullable=False),
)

core_campaign_week = Table(
    "core_campaign_week",
    metadata,
    Column("campaign_code", String(32), primary_key=True),
    Column("week_ending", Date, primary_key=True),
    Column("week_number", Integer, nullable=False),
    Column("deadline_at", UTCDateTime, nullable=False),
)

# Every file seen in an inbox, identified by (unit folder, content hash): processed once; a changed
# file is a new row. modified_at is the storage's last-modified time when the file was first seen;
# landed_at (which decides on time or late) is the later of it and previous_poll_at, the time of the
# last poll before the one that first saw the file (NULL before the first poll ever): a file a poll did
# not see cannot have landed before that poll, whatever time its uploader set. A file refused unread
# (too large) has no content hash or archive copy; its id hashes its listing (name, size, time).
audit_inbox_file = Table(
    "audit_inbox_file",
    metadata,
    Column("file_id", String(80), primary_key=True),  # <unit_folder>/<sha256>
    Column("unit_folder", String(64), nullable=False),
    Column("sha256", String(64)),
    Column("file_name", Text, nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("landed_at", UTCDateTime, nullable=False),
    Column("first_seen_at", UTCDateTime, nullable=False),
    Column("archive_uri", Text),
    Column("status", String(16), nullable=False),  # received | accepted | rejected
    Column("unit_code", String(6)),  # declared in the file, when it could be read
    Column("week_ending", Date),
    Column("revision", Integer),
    Column("processed_at", UTCDateTime),
    Column("run_id", Text),
    Column("attempts", Integer, nullable=False, server_default="0"),  # processing attempts started
    Column("last_error", Text),  # why the last attempt broke, when it did
    Column("modified_at", UTCDateTime, nullable=False),
    Column("previous_poll_at", UTCDateTime),
    Column("first_poll_id", Integer),
)

# Every poll of the inbox: polled_at is the run's time (never later than the clock), the lower bound of
# the landing time of every file this poll did not see; listed_at is when the listing began.
audit_inbox_poll = Table(
    "audit_inbox_poll",
    metadata,
    Column("poll_id", Integer, primary_key=True, autoincrement=True),
    Column("polled_at", UTCDateTime, nullable=False),
    Column("listed_at", UTCDateTime, nullable=False),
    Column("run_id", Text),
    Column("files", Integer, nullable=False),
    Column("skipped", Integer, nullable=False),
)

# Every inbox entry that is not (or not yet) a report file, with the reason: temporary uploads, Office
# lock files, links, files outside a unit's folder, content already received, an archive that failed.
# Keyed by the entry's listing (path, size, time), so a rerun updates the row instead of adding one;
# reported_at is set when the data engineers were alerted about an entry that stayed.
audit_inbox_skip = Table(
    "audit_inbox_skip",
    metadata,
    Column("entry_key", String(64), primary_key=True),
    Column("unit_folder", Text),
    Column("path", Text, nullable=False),  # relative to the inbox
    Column("reason", String(32), nullable=False),
    Column("detail", Text),
    Column("size_bytes", BigInteger),
    Column("modified_at", UTCDateTime),
    Column("first_poll_id", Integer, nullable=False),
    Column("last_poll_id", Integer, nullable=False),
    Column("first_seen_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("polls", Integer, nullable=False),
    Column("reported_at", UTCDateTime),
)


def _count_columns(*, nullable: bool) -> list[Column]:
    """Every count of the report, for the week and cumulative (docs/reports.md)."""
    return [Column(key, BigInteger, nullable=nullable) for key in COUNT_KEYS] + [
        Column(f"{key}_cumulative", BigInteger, nullable=nullable) for key in COUNT_KEYS
    ]


# Accepted reports, every revision kept; the latest revision of (unit, week) counts.
core_report = Table(
    "core_report",
    metadata,
    Column("unit_code", String(6), primary_key=True),
    Column("week_ending", Date, primary_key=True),
    Column("revision", Integer, primary_key=True),
    Column("file_id", String(80), nullable=False, unique=True),
    Column("landed_at", UTCDateTime, nullable=False),
    Column("timeliness", String(8), nullable=False),  # on_time | late
    Column("contact_name", Text),
    Column("contact_phone", Text),
    Column("highlights", Text),
    Column("problems", Text),
    *_count_columns(nullable=False),
    Column("warning_count", Integer, nullable=False),
    Column("loaded_at", UTCDateTime, nullable=False),
)

# Every problem found in a file: rejections (the file was not loaded) and warnings (loaded, flagged).
audit_report_problem = Table(
    "audit_report_problem",
    metadata,
    Column("file_id", String(80), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("rule", String(64), nullable=False),
    Column("severity", String(8), nullable=False),
    Column("field", Text),
    Column("value", Text),
    Column("row_number", Integer),
    Column("cell", String(16)),
    Column("message", Text, nullable=False),
)

# One row per Great Expectations validation (suite, what was validated, outcome).
audit_quality_run = Table(
    "audit_quality_run",
    metadata,
    Column("run_key", String(200), primary_key=True),
    Column("suite", String(100), nullable=False),
    Column("target", Text, nullable=False),
    Column("success", Boolean, nullable=False),
    Column("evaluated_expectations", Integer, nullable=False),
    Column("failed_expectations", Integer, nullable=False),
    Column("rows", Integer, nullable=False),
    Column("failed_rows", Integer, nullable=False),
    Column("results", JSON, nullable=False),
    Column("validated_at", UTCDateTime, nullable=False),
)

# What each task run did: received, loaded, updated, rejected (STYLE: every run ends with a report).
audit_load = Table(
    "audit_load",
    metadata,
    Column("load_key", String(200), primary_key=True),
    Column("dag_id", String(100), nullable=False),
    Column("task_id", String(100), nullable=False),
    Column("subject", String(100), nullable=False),
    Column("interval_start", UTCDateTime),
    Column("interval_end", UTCDateTime),
    Column("counts", JSON, nullable=False),
    Column("finished_at", UTCDateTime, nullable=False),
)

# The outbox: every message, whole, from the moment it is decided until it is sent. The key makes a
# message exist once; a delivery claims a row before sending it, so no two runs send the same one.
audit_notification = Table(
    "audit_notification",
    metadata,
    Column("message_key", String(300), primary_key=True),
    Column("kind", String(40), nullable=False),
    Column("subject_ref", String(120), nullable=False),
    Column("recipients", JSON, nullable=False),
    Column("subject", Text, nullable=False),
    # pending | sending (claimed by a delivery) | sent | failed (retried) | undeliverable (refused for good)
    # | held (waiting for sign-off: delivery skips it until it is released)
    Column("status", String(12), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("message_id", Text),
    Column("last_error", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    Column("channel", String(12), nullable=False, server_default="email"),  # email | chat
    Column("owner", String(40), nullable=False, server_default=""),  # the DAG that delivers it
    Column("body", LargeBinary),  # the whole message as it will be sent
    Column("claimed_at", UTCDateTime),
    Index("ix_audit_notification_status", "status", "created_at"),
)


# --- Job feeds (docs/feeds.md) ---------------------------------------------------------------


def _posting_columns() -> list[Column]:
    """The canonical posting (``feeds.normalise.canonical_columns``) plus its content hash and cluster key."""
    return [
        Column("title", Text, nullable=False),
        Column("title_key", Text, nullable=False),
        Column("employer_name", Text, nullable=False),
        Column("employer_credit_code", String(18)),
        Column("province_code", String(6)),
        Column("city", Text),
        Column("industry_category", String(16)),
        Column("education_level", String(16)),
        Column("employment_type", String(16)),
        Column("salary_min", Integer),
        Column("salary_max", Integer),
        Column("openings", Integer, nullable=False),
        Column("date_posted", Date),
        Column("valid_through", UTCDateTime),
        Column("modified_at", UTCDateTime, nullable=False),
        Column("url", Text),
        Column("description", Text),
        # A credit code that fails its checks, kept apart from employer_credit_code (which links).
        Column("employer_credit_code_raw", String(64)),
        # The salary is implausible as read: kept, and left out of every salary figure.
        Column("salary_flagged", Boolean, nullable=False, server_default=false()),
        # The warnings recorded on the posting: JSON list of {rule, field, value, message}, or NULL.
        Column("problems", Text),
        Column("content_hash", String(32), nullable=False),
        Column("cluster_id", String(24), nullable=False),
    ]


# Staging: the typed postings of the last load of each platform (COPY target; UNLOGGED on PostgreSQL).
stg_posting = Table(
    "stg_posting",
    metadata,
    Column("load_id", String(120), nullable=False, index=True),
    Column("platform_code", String(32), nullable=False),
    Column("posting_id", String(200), nullable=False),
    *_posting_columns(),
    Column("item_hash", String(32)),  # the feed item's (see core_posting_seen)
    Column("seen_at", UTCDateTime, nullable=False),
)

# The postings a load delivered identical to the item they were last delivered as (not staged in
# stg_posting): what moves their first/last seen.
stg_posting_seen = Table(
    "stg_posting_seen",
    metadata,
    Column("load_id", String(120), nullable=False, index=True),
    Column("platform_code", String(32), nullable=False),
    Column("posting_id", String(200), nullable=False),
    Column("item_hash", String(32)),
    Column("seen_at", UTCDateTime, nullable=False),
)

# Every platform's postings, the latest version of each. closed_at is set once valid_through has passed.
core_posting = Table(
    "core_posting",
    metadata,
    Column("platform_code", String(32), primary_key=True),
    Column("posting_id", String(200), primary_key=True),
    *_posting_columns(),
    Column("closed_at", UTCDateTime),
    Column("load_id", String(120), nullable=False),
)

# When each posting was delivered first and last (data-interval ends, so rerunning an interval changes
# nothing) and the hash of the item delivered last (feed item + normalisation rules: the same hash again
# is the same item, loaded without normalising it again). Narrow, because every delivery moves
# last_seen_at (fillfactor 70: HOT updates on PostgreSQL).
core_posting_seen = Table(
    "core_posting_seen",
    metadata,
    Column("platform_code", String(32), primary_key=True),
    Column("posting_id", String(200), primary_key=True),
    Column("first_seen_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("item_hash", String(32)),
    postgresql_with={"fillfactor": 70},
)

# The history of postings: every version that a later one replaced (the current one is in core_posting).
core_posting_version = Table(
    "core_posting_version",
    metadata,
    Column("platform_code", String(32), primary_key=True),
    Column("posting_id", String(200), primary_key=True),
    Column("modified_at", UTCDateTime, primary_key=True),
    Column("content_hash", String(32), nullable=False),
    Column("title", Text, nullable=False),
    Column("salary_min", Integer),
    Column("salary_max", Integer),
    Column("openings", Integer, nullable=False),
    Column("valid_through", UTCDateTime),
    Column("load_id", String(120), nullable=False),
)

# Feed items that could not be normalised or failed validation, with the raw item and the reason.
audit_feed_quarantine = Table(
    "audit_feed_quarantine",
    metadata,
    Column("load_id", String(120), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("platform_code", String(32), nullable=False),
    Column("posting_id", String(200)),
    Column("rule", String(64), nullable=False),
    Column("field", Text),
    Column("message", Text, nullable=False),
    Column("raw", Text, nullable=False),
)

# Fuzzy links between deterministic clusters (``feeds/linkage.py``): one row per posting with what its
# blocking needs (province, employer name key, credit code), the cluster it had when linked, and match_id:
# the representative cluster of the group of clusters it was linked to across platforms, or NULL when
# none. Reports count by COALESCE(match_id, core_posting.cluster_id); loads never write this table.
core_posting_link = Table(
    "core_posting_link",
    metadata,
    Column("platform_code", String(32), primary_key=True),
    Column("posting_id", String(200), primary_key=True),
    Column("cluster_id", String(24), nullable=False),
    Column("province_code", String(6)),
    Column("employer_key", Text, nullable=False),
    Column("employer_credit_code", String(18)),
    Column("match_id", String(24)),
    Column("score", Float),
    Index("ix_core_posting_link_employer", "province_code", "employer_key"),
    Index("ix_core_posting_link_credit_code", "province_code", "employer_credit_code"),
    Index("ix_core_posting_link_match_id", "match_id"),
)


# --- Weekly summary: every version kept; what the emails and dashboards read ---------------------

mart_weekly_summary = Table(
    "mart_weekly_summary",
    metadata,
    Column("campaign_code", String(32), primary_key=True),
    Column("week_ending", Date, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("kind", String(12), nullable=False),  # preliminary | revised
    Column("as_of", UTCDateTime, nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("expected", Integer, nullable=False),
    Column("reported", Integer, nullable=False),
    Column("on_time", Integer, nullable=False),
    Column("late", Integer, nullable=False),
    Column("missing", Integer, nullable=False),
    Column("rejected", Integer, nullable=False),
    Column("reporting_rate", Float, nullable=False),
    Column("on_time_rate", Float, nullable=False),
    Column("payload", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

mart_summary_unit = Table(
    "mart_summary_unit",
    metadata,
    Column("campaign_code", String(32), primary_key=True),
    Column("week_ending", Date, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("unit_code", String(6), primary_key=True),
    Column("status", String(8), nullable=False),
    Column("landed_at", UTCDateTime),
    Column("revision", Integer),
    Column("warnings", Integer, nullable=False),
    *_count_columns(nullable=True),  # empty for a unit that has not reported
)

# One row per summary email decided for the ministry: the preliminary version, or a day's digest of a
# week's revisions (holding the latest version, its changes counted from ``base_version``), and its
# sign-off (not_required | waiting | approved | rejected | sent_without_sign_off | held_without_sign_off).
mart_summary_mailing = Table(
    "mart_summary_mailing",
    metadata,
    Column("message_key", String(300), primary_key=True),  # the email's key in audit_notification
    Column("campaign_code", String(32), nullable=False),
    Column("week_ending", Date, nullable=False),
    Column("version", Integer, nullable=False),
    Column("kind", String(12), nullable=False),  # preliminary | digest
    Column("digest_date", Date),  # the day of a digest (Beijing)
    Column("base_version", Integer),  # the version last mailed, that a digest's changes are against
    Column("created_at", UTCDateTime, nullable=False),
    Column("sign_off", String(24), nullable=False),
    Column("signed_off_by", Text),  # the reviewer's Airflow user (id and name) who answered
    Column("signed_off_at", UTCDateTime),
    Column("sign_off_comment", Text),
    Index("ix_mart_summary_mailing_week", "campaign_code", "week_ending", "version"),
)

mart_summary_national = Table(
    "mart_summary_national",
    metadata,
    Column("campaign_code", String(32), primary_key=True),
    Column("week_ending", Date, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("measure", String(40), primary_key=True),
    Column("week_value", BigInteger, nullable=False),
    Column("cumulative_value", BigInteger, nullable=False),
    Column("previous_week_value", BigInteger),
)


# --- The control room (docs/control-room.md) ---------------------------------------------------

# A unit excused from reporting for a week by ministry staff: neither missing nor reminded.
core_unit_exemption = Table(
    "core_unit_exemption",
    metadata,
    Column("campaign_code", String(32), primary_key=True),
    Column("week_ending", Date, primary_key=True),
    Column("unit_code", String(6), primary_key=True),
    Column("reason", Text, nullable=False),
    Column("granted_by", Text, nullable=False),
    Column("granted_at", UTCDateTime, nullable=False),
)

# Every change made in the control room: exempt, lift_exemption, resend; by whom, when and why.
audit_control_action = Table(
    "audit_control_action",
    metadata,
    Column("action_id", Integer, primary_key=True, autoincrement=True),
    Column("action", String(32), nullable=False),
    Column("subject", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("acted_at", UTCDateTime, nullable=False),
    Column("reason", Text),
    Column("detail", JSON, nullable=False),
)

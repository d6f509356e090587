"""Job feeds: the view ``core_posting_job``, the one definition of the job a posting belongs to.

A posting's job is its fuzzy match group (``core_posting_link.match_id``, see ``feeds/linkage.py``), or
else its deterministic cluster; ``platforms`` is on how many platforms that job is posted. The duplicate
rate and the weekly summary both count from it, so they cannot come to mean different things.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 14:30:00
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# Plain SQL that PostgreSQL and SQLite both take; PostgreSQL inlines the view into the queries.
VIEW = """
CREATE VIEW core_posting_job AS
WITH matched AS (
    SELECT p.platform_code, p.posting_id, COALESCE(l.match_id, p.cluster_id) AS match_id
    FROM core_posting AS p
    LEFT JOIN core_posting_link AS l
        ON l.platform_code = p.platform_code AND l.posting_id = p.posting_id
),
jobs AS (
    SELECT match_id, COUNT(DISTINCT platform_code) AS platforms
    FROM matched
    GROUP BY match_id
)
SELECT m.platform_code, m.posting_id, m.match_id, j.platforms
FROM matched AS m
JOIN jobs AS j ON j.match_id = m.match_id
"""


def upgrade() -> None:
    op.execute(VIEW)


def downgrade() -> None:
    op.execute("DROP VIEW core_posting_job")

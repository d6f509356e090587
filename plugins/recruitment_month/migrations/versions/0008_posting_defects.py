"""Job feeds: a posting with one bad field is loaded, the field set aside and the problem recorded.

``core_posting`` and ``stg_posting`` gain ``employer_credit_code_raw`` (a credit code that fails its
checks, kept apart from ``employer_credit_code``, which links postings), ``salary_flagged`` (a salary
outside the plausible range or with its minimum above its maximum: kept, left out of salary figures) and
``problems`` (the warnings recorded on the posting, as JSON).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 22:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TABLES = ("core_posting", "stg_posting")


# Plain ALTER TABLE on both databases (SQLite 3.35+ drops columns itself): a batch operation would copy
# core_posting, which SQLite refuses while the view core_posting_job reads it.


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("employer_credit_code_raw", sa.String(length=64), nullable=True))
        op.add_column(
            table, sa.Column("salary_flagged", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        op.add_column(table, sa.Column("problems", sa.Text(), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        op.drop_column(table, "problems")
        op.drop_column(table, "salary_flagged")
        op.drop_column(table, "employer_credit_code_raw")

"""The national weekly summary: its data model, charts, workbook and email (docs/summary-and-reminders.md).

    from recruitment_month.summary import render_summary
    mail = render_summary(summary)  # a notifications.Mail with HTML, text, inline charts and .xlsx

Pure package: no Airflow import; matplotlib, openpyxl and Jinja2 are imported only when rendering.
"""

from __future__ import annotations

from recruitment_month.summary.model import (
    CrossCheck,
    FeedFigures,
    QualityWarning,
    UnitStatus,
    WeeklySummary,
)


def render_summary(summary: WeeklySummary, **kwargs):
    """See :func:`recruitment_month.summary.render.render_summary`."""
    from recruitment_month.summary.render import render_summary as render

    return render(summary, **kwargs)


__all__ = [
    "CrossCheck",
    "FeedFigures",
    "QualityWarning",
    "UnitStatus",
    "WeeklySummary",
    "render_summary",
]

"""The tag vocabulary of the project's DAGs; the DAG integrity test rejects any other tag."""

from enum import StrEnum


class Tag(StrEnum):
    REPORTS = "provincial-reports"
    FEEDS = "job-feeds"
    SUMMARY = "weekly-summary"
    REMINDERS = "reminders"
    EMAIL = "email"
    WAREHOUSE = "warehouse"
    QUALITY = "data-quality"

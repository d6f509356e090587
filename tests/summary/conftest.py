"""Fixtures of the summary tests: sample summaries and their rendered mails (rendered once)."""

from __future__ import annotations

import pytest

from recruitment_devkit.sample_summary import sample_summary
from recruitment_month.summary.render import render_summary


@pytest.fixture(scope="session")
def preliminary():
    return sample_summary(week_number=3, version=1)


@pytest.fixture(scope="session")
def revised():
    return sample_summary(week_number=3, version=2)


@pytest.fixture(scope="session")
def preliminary_mail(preliminary):
    return render_summary(preliminary)


@pytest.fixture(scope="session")
def revised_mail(revised):
    return render_summary(revised)

"""Fixtures of the summary tests: summaries the pipeline computed, and their rendered mails.

``sample`` replays the first two weeks of the demo campaign once per session (``sample_summary.build``:
the demo inbox through the report pipeline, the simulator's postings through the feed load, and the
consolidation) into a SQLite warehouse; the tests render what it stored. Week 2's preliminary version
is frozen at its deadline; version 2 came when the reports rejected or missing at the deadline arrived.
"""

from __future__ import annotations

import pytest

from recruitment_devkit import sample_summary
from recruitment_month.summary.render import render_summary


@pytest.fixture(scope="session")
def sample(tmp_path_factory):
    return sample_summary.build(tmp_path_factory.mktemp("sample-summary"))


@pytest.fixture(scope="session")
def preliminary(sample):
    return sample.summary(2, 1)


@pytest.fixture(scope="session")
def revised(sample):
    return sample.summary(2, 2)


@pytest.fixture(scope="session")
def first_week(sample):
    return sample.summary(1, 1)


@pytest.fixture(scope="session")
def preliminary_mail(preliminary):
    return render_summary(preliminary)


@pytest.fixture(scope="session")
def revised_mail(revised):
    return render_summary(revised)

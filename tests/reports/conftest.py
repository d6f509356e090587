"""Fixtures of the report tests; the file builders live in ``report_builders``."""

from __future__ import annotations

import pytest
from report_builders import sample_record

from recruitment_month import config


@pytest.fixture
def record() -> dict:
    return sample_record()


@pytest.fixture(scope="session")
def campaign() -> config.Campaign:
    return config.campaign()

"""The quality framework: suites from files, row-level failures with severities, recorded in the audit layer."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date

import pandas as pd
import pytest
from sqlalchemy import select

from recruitment_month import config, quality, schema, warehouse
from recruitment_month.problems import Severity


def _report(**overrides) -> dict:
    row = {"unit_code": "110000", "week_ending": "2022-11-11", "contact_phone": "010-1234"}
    for key in quality.load_suite("provincial_report")["expectations"]:
        for column in ("column", "column_A", "column_B"):
            name = key["kwargs"].get(column)
            if name and name not in row:
                row[name] = 10
    row.update(overrides)
    return row


def _params() -> dict:
    return {
        "unit_codes": [u.code for u in config.units().units],
        "weeks": [w.isoformat() for w in config.campaign().weeks],
    }


def test_a_passing_frame_has_no_failures():
    frame = pd.DataFrame([_report(), _report(unit_code="660000", week_ending="2022-12-30")])
    outcome = quality.validate(frame, "provincial_report", _params())
    assert outcome.success, outcome.failures
    assert outcome.failures == []
    assert outcome.evaluated == len(quality.load_suite("provincial_report")["expectations"])
    assert outcome.rows == 2


def test_failures_name_row_column_value_rule_and_severity():
    frame = pd.DataFrame(
        [
            _report(),
            _report(unit_code="999999", positions=-5),
            _report(week_ending="2022-11-12", employers=50, positions=20, positions_cumulative=20),
            _report(contact_phone=None),
        ]
    )
    outcome = quality.validate(frame, "provincial_report", _params())
    assert not outcome.success
    got = {
        (f.row, f.column, json.dumps(f.value, ensure_ascii=False), f.rule, f.severity)
        for f in outcome.failures
    }
    assert (1, "unit_code", '"999999"', "unit_invalid", Severity.REJECT) in got
    assert (1, "positions", "-5", "count_negative", Severity.REJECT) in got
    assert (2, "week_ending", '"2022-11-12"', "week_invalid", Severity.REJECT) in got
    assert (
        2,
        "positions",
        '{"positions": 20, "employers": 50}',
        "employers_gt_positions",
        Severity.WARN,
    ) in got
    assert (3, "contact_phone", "null", "contact_missing", Severity.WARN) in got
    assert outcome.rejected_rows == {1, 2}
    assert 0 not in {f.row for f in outcome.failures}
    message = next(f.message for f in outcome.failures if f.rule == "count_negative")
    assert "提供岗位(个)" in message
    assert "不小于0" in message


def test_cumulative_below_weekly_is_a_reject():
    frame = pd.DataFrame([_report(graduates=500, graduates_cumulative=400)])
    outcome = quality.validate(frame, "provincial_report", _params())
    (failure,) = [f for f in outcome.failures if f.rule == "cumulative_lt_weekly"]
    assert failure.severity is Severity.REJECT
    assert failure.value == {"graduates_cumulative": 400, "graduates": 500}


def test_a_suite_without_rule_or_message_is_refused(tmp_path, monkeypatch):
    (tmp_path / "expectations").mkdir()
    (tmp_path / "expectations" / "bad.json").write_text(
        json.dumps(
            {"name": "bad", "expectations": [{"type": "expect_column_to_exist", "kwargs": {"column": "a"}}]}
        ),
        encoding="utf-8",
    )
    monkeypatch.setenv("RECRUITMENT_INCLUDE", str(tmp_path))
    with pytest.raises(ValueError, match=r"bad.json: expectations\[0\] needs meta.rule and meta.message"):
        quality.load_suite("bad")


def test_every_validation_is_recorded(warehouse_url, tmp_path, monkeypatch):
    monkeypatch.setenv("RECRUITMENT_DATA_DOCS", str(tmp_path / "docs"))
    frame = pd.DataFrame([_report(), _report(hongzhi_trainees=-1)])
    outcome = quality.validate(frame, "provincial_report", _params())
    for _ in range(2):  # recording the same run twice leaves one row
        with warehouse.transaction(warehouse_url) as conn:
            quality.record(conn, outcome, run_key="test/1", target="inbox files of run 1")
    with warehouse.engine(warehouse_url).connect() as conn:
        rows = conn.execute(select(schema.audit_quality_run)).mappings().all()
    assert len(rows) == 1
    row = rows[0]
    assert row["suite"] == "provincial_report"
    assert row["success"] is False
    assert row["rows"] == 2
    assert row["failed_rows"] == 1
    assert row["failed_expectations"] == 1
    failing = [r for r in row["results"] if not r["success"]]
    assert failing[0]["rule"] == "count_negative"
    assert failing[0]["columns"] == ["hongzhi_trainees"]
    assert row["validated_at"].tzinfo is not None
    # and published to the Data Docs: one page per run key, listed in the index
    pages = list((tmp_path / "docs" / "validations").glob("*.html"))
    assert [p.name for p in pages] == ["test_1.html"]
    assert "provincial_report" in pages[0].read_text(encoding="utf-8")
    index = (tmp_path / "docs" / "index.html").read_text(encoding="utf-8")
    assert "validations/test_1.html" in index
    assert "1 expectation(s) failed" in index


def test_importing_the_framework_imports_no_heavy_library():
    code = (
        "import sys, recruitment_month.quality, recruitment_month.notifications, recruitment_month.alerts;"
        "heavy = [m for m in ('great_expectations', 'pandas', 'sqlalchemy', 'airflow') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_weeks_parameter_matches_the_campaign():
    assert date(2022, 12, 30).isoformat() in _params()["weeks"]

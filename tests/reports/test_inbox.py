"""The inbox listing and the names in messages, without a warehouse: every entry listed with a reason
when it is not a report file; names from uploaders never break a mail header."""

from __future__ import annotations

from datetime import UTC, date, datetime

import fsspec
import pytest

from recruitment_month import config, notifications
from recruitment_month.problems import Problem, Severity
from recruitment_month.reports import inbox
from recruitment_month.reports.messages import for_outcome
from recruitment_month.reports.pipeline import FileOutcome


@pytest.fixture
def bucket():
    fs = fsspec.filesystem("memory")
    root = "/inbox-unit-test"
    yield fs, root
    if fs.exists(root):
        fs.rm(root, recursive=True)


def test_an_object_storage_listing_accounts_for_every_entry(bucket):
    fs, root = bucket
    for path in (
        "110000/report.json",
        "110000/.report.json.uploading",
        "110000/~$report.xlsx",
        "110000/sub/folder/report.csv",
        "root.json",
        "a-folder-name-far-too-long/x.json",
    ):
        fs.pipe(f"{root}/{path}", b"{}")
    entries = {e.relative: e for e in inbox.scan(f"memory://{root}")}
    assert {name: e.skip for name, e in entries.items()} == {
        "110000/report.json": None,
        "110000/sub/folder/report.csv": None,
        "110000/.report.json.uploading": inbox.TEMPORARY_UPLOAD,
        "110000/~$report.xlsx": inbox.OFFICE_LOCK,
        "root.json": inbox.OUTSIDE_UNIT_FOLDER,
        "a-folder-name-far-too-long/x.json": inbox.FOLDER_NAME_TOO_LONG,
    }
    nested = entries["110000/sub/folder/report.csv"]
    assert (nested.folder, nested.name) == ("110000", "sub/folder/report.csv")
    # report files first, the skipped after them
    assert [e.skip is None for e in inbox.scan(f"memory://{root}")] == [
        True,
        True,
        False,
        False,
        False,
        False,
    ]


def test_an_entry_key_changes_with_the_file_and_tells_raw_names_apart():
    moment = datetime(2022, 11, 11, 1, tzinfo=UTC)
    a = inbox.InboxEntry("110000", "/in/110000/\udcb1\udcb1.json", "北.json", 10, moment)
    b = inbox.InboxEntry("110000", "/in/110000/北.json", "北.json", 10, moment)
    assert a.key != b.key  # the same text, other bytes: two files
    assert a.key == inbox.InboxEntry("110000", a.path, "北.json", 10, moment).key
    assert a.key != inbox.InboxEntry("110000", a.path, "北.json", 11, moment).key


def test_names_with_breaks_and_controls_are_flattened_in_every_subject_and_body():
    campaign, units = config.campaign(), config.units().by_code()
    outcome = FileOutcome(
        file_id="99 9999/" + "a" * 64,
        folder="99\n9999",
        file_name="周报\r\nBcc: x@example.org\u2028.json",
        landed_at=datetime(2022, 11, 11, 1, tzinfo=UTC),
        status="rejected",
        week_ending=date(2022, 11, 11),
        problems=[Problem("folder_unknown", Severity.REJECT, "不是单位目录", "unit_folder", "99\n9999")],
    )
    mails = for_outcome(outcome, campaign, units)
    assert [m.kind for m in mails] == ["report_rejection", "security_alert"]
    for mail in mails:
        msg = notifications.build(mail, "noreply@example.org")  # raised ValueError on a line break
        assert "\n" not in msg["Subject"]
        assert "\r" not in msg["Subject"]
        assert msg["Bcc"] is None
        assert "周报 Bcc: x@example.org .json" in mail.text
    assert "目录 99 9999 的报送人" in mails[0].subject

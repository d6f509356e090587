"""Faults of the provincial inbox, end to end (collect, process, notify) on SQLite and PostgreSQL with a
real SMTP sink: names in any encoding or with line breaks, oversize uploads, a full archive disk,
entries that are not report files, backdated modification times."""

from __future__ import annotations

import os
import subprocess
import tracemalloc
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlalchemy import select
from weekly_report import as_json

from recruitment_month import config, schema, warehouse
from recruitment_month.reports import inbox as storage
from recruitment_month.reports import pipeline

CAMPAIGN = config.campaign()
TZ = CAMPAIGN.tz
WEEK1 = date(2022, 11, 11)
LIMIT = CAMPAIGN.max_report_file_bytes


def report(unit: str, padding: int = 0) -> bytes:
    """A valid report of ``unit`` for week 1, as JSON (``padding`` spaces make it as large as needed)."""
    return as_json(unit) + b" " * padding


def morning(hour: int = 9) -> datetime:
    return datetime(WEEK1.year, WEEK1.month, WEEK1.day, hour, tzinfo=TZ)


def put(path: bytes | Path, content: bytes, landed: datetime) -> None:
    """Write a file by its raw name (bytes: any encoding, as the uploader's client wrote it)."""
    raw = os.fsencode(path)
    os.makedirs(os.path.dirname(raw), exist_ok=True)
    fd = os.open(raw, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, content)
    finally:
        os.close(fd)
    os.utime(raw, (landed.timestamp(), landed.timestamp()))


@pytest.fixture
def env(warehouse_url, mail_sink, tmp_path, monkeypatch):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    monkeypatch.setenv("RECRUITMENT_INBOX", str(inbox))
    monkeypatch.setenv("RECRUITMENT_ARCHIVE", str(tmp_path / "archive"))

    class Env:
        engine = warehouse.engine(warehouse_url)
        sink = mail_sink
        archive = tmp_path / "archive"

        def __init__(self):
            self.inbox = inbox
            self.runs = 0

        def collect(self, **kwargs) -> pipeline.CollectResult:
            self.runs += 1
            return pipeline.collect(self.engine, run_id=f"run_{self.runs}", **kwargs)

        def answer(self, collected: pipeline.CollectResult) -> dict:
            """What the rest of a DAG run does: process, then notify."""
            summary = pipeline.run_process(
                self.engine,
                run_id=f"run_{self.runs}",
                collected={"seen": collected.seen, "new": collected.new},
            )
            summary["sent"] = pipeline.notify(self.engine)
            return summary

        def run(self) -> dict:
            return self.answer(self.collect())

        def rows(self, table, *where) -> list[dict]:
            with self.engine.connect() as conn:
                return [dict(r) for r in conn.execute(select(table).where(*where)).mappings()]

        def files(self) -> dict[str, dict]:
            return {r["file_name"]: r for r in self.rows(schema.audit_inbox_file)}

        def mails(self):
            return [message_from_bytes(p.read_bytes(), policy=policy.default) for p in self.sink.files()]

        def archived(self) -> list[Path]:
            return sorted(p for p in self.archive.rglob("*") if p.is_file()) if self.archive.exists() else []

    return Env()


def test_a_file_name_that_is_not_utf8_is_collected_read_and_answered(env):
    gbk = "北京市第1周周报.json".encode("gbk")
    put(bytes(env.inbox) + b"/110000/" + gbk, report("110000"), morning(9))
    put(env.inbox / "120000" / "tianjin.json", report("120000"), morning(10))
    summary = env.run()
    assert (summary["accepted"], summary["rejected"]) == (2, 0), summary
    files = env.files()
    assert set(files) == {"北京市第1周周报.json", "tianjin.json"}
    assert Path(files["北京市第1周周报.json"]["archive_uri"]).read_bytes() == report("110000")
    receipts = {m["To"]: m for m in env.mails()}
    assert set(receipts) == {"jyc-110000@example.org", "jyc-120000@example.org"}
    assert "北京市第1周周报.json" in receipts["jyc-110000@example.org"].get_body(("plain",)).get_content()
    # the next poll knows the file by its stored name: nothing new, nothing sent
    again = env.run()
    assert again["processed"] == 0
    assert again["sent"]["sent"] == 0


def _headers_are_single_lines(raw: bytes) -> None:
    head = raw.split(b"\r\n\r\n", 1)[0]
    for line in head.split(b"\r\n"):
        # every physical line is a header or a folded continuation of one (RFC 5322)
        assert line[:1] in (b" ", b"\t") or b":" in line, f"a header line that is neither: {line!r}"
    msg = message_from_bytes(raw, policy=policy.default)
    for name, value in msg.items():
        assert "\n" not in str(value), (name, value)
        assert "\r" not in str(value), (name, value)


def test_names_with_line_breaks_never_reach_a_header_and_every_notice_is_sent(env):
    put(env.inbox / "110000" / "周报\n第1周.json", report("110000"), morning(9))  # accepted: a receipt
    put(env.inbox / "99\n9999" / "x\r\nBcc: victim@example.org.json", report("110000"), morning(10))
    put(env.inbox / "120000" / "tianjin.json", report("120000"), morning(11))  # after both
    summary = env.run()
    assert (summary["accepted"], summary["rejected"]) == (2, 1), summary
    assert summary["sent"]["sent"] == 4  # 2 receipts, a notice, an alert
    assert summary["sent"]["failed"] == 0
    for path in env.sink.files():
        _headers_are_single_lines(path.read_bytes())
    mails = env.mails()
    assert all(m["Bcc"] is None for m in mails)
    by_to = {}
    for m in mails:
        by_to.setdefault(m["To"], []).append(m)
    (receipt,) = by_to["jyc-110000@example.org"]
    assert "周报 第1周.json" in receipt.get_body(("plain",)).get_content()
    assert "周报 第1周.json" in receipt.get_body(("html",)).get_content()
    engineers = by_to["data-engineering@example.org"]
    subjects = sorted(m["Subject"] for m in engineers)
    assert any("目录 99 9999 的报送人" in s for s in subjects), subjects
    assert any("Inbox security: 99 9999/x Bcc: victim@example.org.json" in s for s in subjects), subjects
    assert len(by_to["jyc-120000@example.org"]) == 1


def _sparse(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        handle.truncate(size)
    os.utime(path, (morning(9).timestamp(), morning(9).timestamp()))


def test_an_oversize_upload_is_refused_unread_and_unarchived_and_its_unit_is_told(env):
    size = 300 * 1024 * 1024
    put(env.inbox / "120000" / "tianjin.json", report("120000"), morning(10))
    assert env.run()["accepted"] == 1  # a first run, so that what is measured next is the file, not imports
    _sparse(env.inbox / "110000" / "huge.xlsx", size)
    tracemalloc.start()
    try:
        collected = env.collect()
        summary = env.answer(collected)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 32 * 1024 * 1024, f"peak {peak / 2**20:.0f} MiB of Python memory for a {size} byte file"
    assert collected.refused == 1
    assert collected.new == 0
    assert (summary["accepted"], summary["rejected"]) == (0, 1), summary
    assert summary["rejections_by_rule"] == {"file_too_large": 1}
    huge = env.files()["huge.xlsx"]
    assert huge["status"] == "rejected"
    assert huge["archive_uri"] is None
    assert huge["sha256"] is None
    assert huge["size_bytes"] == size
    assert huge["modified_at"] == morning(9).astimezone(UTC)
    (problem,) = env.rows(
        schema.audit_report_problem, schema.audit_report_problem.c.file_id == huge["file_id"]
    )
    assert problem["rule"] == "file_too_large"
    assert problem["value"] == str(size)
    assert f"{size:,}" in problem["message"]
    assert f"{LIMIT:,}" in problem["message"]
    # only Tianjin's file is in the archive
    assert [p.read_bytes() for p in env.archived()] == [report("120000")]
    (notice,) = [m for m in env.mails() if m["To"] == "jyc-110000@example.org"]
    # its own words: the file was refused unread, not found wrong
    assert "“huge.xlsx”" in notice["Subject"]
    assert "超过大小上限，未予读取" in notice["Subject"]
    assert "未通过校验" not in notice["Subject"]
    text = notice.get_body(("plain",)).get_content()
    assert "huge.xlsx" in text
    assert "300.0 MB" in text
    assert "5.0 MB" in text
    # a rerun refuses nothing again and sends nothing again
    again = env.run()
    assert again["processed"] == 0
    assert again["sent"]["sent"] == 0
    assert len(env.rows(schema.audit_inbox_file)) == 2


@pytest.fixture
def small_archive(env):
    """The archive on a 2 MiB file system of its own; unmounted afterwards."""
    env.archive.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(env.archive)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        message = f"cannot mount a tmpfs here: {mounted.stderr.strip()}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (CI=true: the full-disk test must not be skipped)")
        pytest.skip(message)
    try:
        yield env.archive
    finally:
        subprocess.run(["umount", str(env.archive)], check=True)


def test_a_full_archive_disk_fails_clearly_leaves_nothing_partial_and_the_rerun_collects_once(
    env, small_archive
):
    filler = small_archive / "filler"
    filler.write_bytes(b"\0" * (1024 * 1024 + 512 * 1024))  # 1.5 MiB of the 2 MiB
    put(env.inbox / "120000" / "small.json", report("120000"), morning(9))
    big = report("110000", padding=1024 * 1024)  # 1 MiB: does not fit any more
    put(env.inbox / "110000" / "big.json", big, morning(10))

    with pytest.raises(OSError, match="No space left") as failure:
        env.collect()
    message = str(failure.value)
    assert "110000/big.json" in message
    assert str(small_archive) in message
    assert "No space left" in message
    assert isinstance(failure.value, storage.ArchiveError)
    # nothing partial in the archive, no row of the file in the warehouse; the other file is collected
    assert sorted(p.name for p in small_archive.rglob("*") if p.is_file()) == sorted(
        ["filler", env.files()["small.json"]["sha256"]]
    )
    assert set(env.files()) == {"small.json"}
    (skip,) = env.rows(schema.audit_inbox_skip)
    assert skip["reason"] == "archive_failed"
    assert skip["path"] == "110000/big.json"

    filler.unlink()  # space returns
    collected = env.collect()
    assert collected.new == 1
    env.answer(collected)
    files = env.files()
    assert set(files) == {"small.json", "big.json"}
    assert Path(files["big.json"]["archive_uri"]).read_bytes() == big
    # it was first seen by the first poll, before which there was none: its storage time stands
    assert files["big.json"]["landed_at"] == morning(10).astimezone(UTC)
    assert env.rows(schema.audit_inbox_skip) == []
    assert env.collect().new == 0
    assert len(env.rows(schema.audit_inbox_file)) == 2
    assert len([m for m in env.mails() if m["To"] == "jyc-110000@example.org"]) == 1


def test_every_entry_that_is_not_a_report_is_recorded_with_its_reason_once(env):
    unit = env.inbox / "110000"
    put(unit / ".report.json.part", b"{", morning(9))
    put(unit / "~$周报.xlsx", b"lock", morning(9))
    put(env.inbox / "stray.json", report("110000"), morning(9))
    put(env.inbox / "130000" / ".sync" / "old.json", report("130000"), morning(9))
    put(env.inbox / "a-folder-name-far-too-long" / "x.json", report("140000"), morning(9))
    put(env.inbox / "120000" / "tianjin.json", report("120000"), morning(9))
    os.symlink(env.inbox / "120000" / "tianjin.json", unit / "link.json")
    os.mkfifo(unit / "pipe.json")
    first = env.run()
    assert first["accepted"] == 1
    expected = {
        "110000/.report.json.part": "temporary_upload",
        "110000/~$周报.xlsx": "office_lock",
        "stray.json": "outside_unit_folder",
        "130000/.sync/old.json": "temporary_upload",
        "a-folder-name-far-too-long/x.json": "folder_name_too_long",
        "110000/link.json": "link",
        "110000/pipe.json": "not_a_regular_file",
    }
    skips = {r["path"]: r for r in env.rows(schema.audit_inbox_skip)}
    assert {p: r["reason"] for p, r in skips.items()} == expected
    assert all(r["polls"] == 1 for r in skips.values())
    assert not [
        m for m in env.mails() if str(m["X-Recruitment-Message-Key"]).strip().startswith("inbox_skip/")
    ]
    tables = (schema.audit_inbox_file, schema.core_report, schema.audit_report_problem)
    before = {t.name: env.rows(t) for t in tables}
    env.run()  # a rerun: the same rows, each seen once more, and the engineers are told about each
    again = {r["path"]: r for r in env.rows(schema.audit_inbox_skip)}
    assert set(again) == set(expected)
    assert all(r["polls"] == 2 for r in again.values())
    assert all(r["reported_at"] is not None for r in again.values())
    assert {t.name: env.rows(t) for t in tables} == before
    alerts = [m for m in env.mails() if str(m["X-Recruitment-Message-Key"]).strip().startswith("inbox_skip/")]
    assert len(alerts) == len(expected)
    assert all(m["To"] == "data-engineering@example.org" for m in alerts)
    (stray,) = [m for m in alerts if "stray.json" in m["Subject"]]
    assert "outside_unit_folder" in stray["Subject"]
    assert "<inbox>/<unit_code>/" in stray.get_body(("plain",)).get_content()
    env.run()  # once per entry: a third poll tells nobody again
    assert len(
        [m for m in env.mails() if str(m["X-Recruitment-Message-Key"]).strip().startswith("inbox_skip/")]
    ) == len(expected)
    assert len(env.rows(schema.audit_inbox_poll)) == 3


def test_a_backdated_file_lands_no_earlier_than_the_poll_before_the_one_that_saw_it(env):
    put(env.inbox / "110000" / "early.json", report("110000"), morning(9))
    before_first = datetime.now(UTC)
    first = env.collect()  # the first poll ever: the storage's time stands
    after_first = datetime.now(UTC)
    put(env.inbox / "120000" / "backdated.json", report("120000"), after_first - timedelta(days=2))
    second = env.collect()
    assert (first.new, second.new) == (1, 1)
    files = env.files()
    early, backdated = files["early.json"], files["backdated.json"]
    assert early["landed_at"] == morning(9).astimezone(UTC)
    assert before_first <= backdated["landed_at"] <= after_first  # the first poll's time
    assert early["modified_at"] == early["landed_at"]
    assert early["previous_poll_at"] is None
    (poll1, poll2) = sorted(env.rows(schema.audit_inbox_poll), key=lambda r: r["poll_id"])
    assert poll1["poll_id"] == first.poll_id
    assert poll2["run_id"] == "run_2"
    assert backdated["modified_at"] < poll1["polled_at"]
    assert backdated["previous_poll_at"] == poll1["polled_at"] == backdated["landed_at"]


def test_inside_a_run_the_poll_takes_the_runs_time(env):
    """A replay of the campaign (the demo) polls at each run's logical date, so a file it places later
    with an earlier storage time still lands then; a run cannot set a time later than the clock."""
    from airflow.sdk.execution_time.context import set_current_context

    with set_current_context({"logical_date": morning(8)}):
        env.collect()
    put(env.inbox / "110000" / "a.json", report("110000"), morning(9))
    with set_current_context({"logical_date": datetime(2099, 1, 1, tzinfo=UTC)}):
        env.collect()
    polls = sorted(env.rows(schema.audit_inbox_poll), key=lambda r: r["poll_id"])
    assert polls[0]["polled_at"] == morning(8).astimezone(UTC)
    assert polls[1]["polled_at"] <= datetime.now(UTC)
    assert env.files()["a.json"]["landed_at"] == morning(9).astimezone(UTC)

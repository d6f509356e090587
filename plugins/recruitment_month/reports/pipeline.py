"""Provincial reports from inbox to warehouse: collect, process (parse, validate, load), notify.

Each step reads its work from the warehouse, not from the previous task's memory, so any step can be
rerun alone: ``collect`` registers files not seen before, ``process`` handles files still *received*,
``notify`` sends what the ledger has not sent. Each file is processed in its own transaction: a file
that fails for any reason is rejected with the reason and the others go on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from recruitment_month.problems import Problem, Severity
from recruitment_month.settings import settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)

SUITE = "provincial_report"
OWNER = "provincial_reports"  # the DAG whose runs deliver receipts and notices


def inbox_url() -> str:
    return settings().inbox


def data_dir() -> str:
    return str(settings().data_dir)


def archive_url() -> str:
    return settings().archive


@dataclass
class CollectResult:
    seen: int = 0  # report files in the inbox (skipped entries not counted)
    new: int = 0  # registered by this poll
    file_ids: list[str] = field(default_factory=list)
    refused: int = 0  # too large: registered as rejected without being read
    skipped: int = 0  # entries that are not report files (recorded in audit_inbox_skip)
    poll_id: int | None = None


def poll_time(now: datetime) -> datetime:
    """The time a poll stands for: inside an Airflow task, the run's time (the campaign's clock, which a
    replay of past weeks sets too), never later than ``now``; outside a task, ``now``."""
    try:
        from airflow.sdk import get_current_context

        context = get_current_context()
    except RuntimeError:  # not running inside a task: the clock is the only time there is
        return now
    run = context.get("dag_run")
    moment = (
        context.get("logical_date") or getattr(run, "logical_date", None) or getattr(run, "run_after", None)
    )
    return min(moment, now) if moment else now


def collect(
    engine: Engine,
    *,
    inbox: str | None = None,
    archive: str | None = None,
    run_id: str = "",
    polled_at: datetime | None = None,
) -> CollectResult:
    """One poll of the inbox, accounting for every entry in it.

    The poll is recorded first, with every entry that is not a report file and why (an alert goes to the
    data engineers about one that stays). Then each report file not seen before is read (at most
    ``max_report_file_bytes``), archived and registered *received*, in its own transaction; one larger
    than that is registered *rejected* (rule ``file_too_large``) without being read or archived, and its
    unit is answered like any rejected file. Its landing time is the later of the storage's time and the
    previous poll's. When a file cannot be archived the others are still collected, and then the task
    fails naming it; the next poll retries it.
    """
    from sqlalchemy import select

    from recruitment_month import config, schema
    from recruitment_month.reports import inbox as storage
    from recruitment_month.text import one_line

    inbox = inbox or inbox_url()
    archive = archive or archive_url()
    limit = config.campaign().max_report_file_bytes
    listed_at = datetime.now(UTC)
    polled_at = min(polled_at or poll_time(listed_at), listed_at)
    entries = storage.scan(inbox)
    files = [e for e in entries if e.skip is None]
    result = CollectResult(seen=len(files), skipped=len(entries) - len(files))
    t, skips_table = schema.audit_inbox_file, schema.audit_inbox_skip

    with engine.begin() as conn:
        poll_id = result.poll_id = _record_poll(conn, polled_at, listed_at, run_id, result)
        known = {
            (r.unit_folder, r.file_name, r.size_bytes, r.modified_at)
            for r in conn.execute(select(t.c.unit_folder, t.c.file_name, t.c.size_bytes, t.c.modified_at))
        }
        skips = {r.entry_key: r for r in conn.execute(select(skips_table))}
        _record_skips(conn, entries, skips, poll_id, polled_at)
        _alert_stale_skips(conn, poll_id)

    failures: list[Exception] = []
    for entry in files:
        seen_before = skips.get(entry.key)
        if (entry.folder, entry.name, entry.size, entry.modified_at) in known or (
            seen_before is not None and seen_before.reason == storage.DUPLICATE_CONTENT
        ):
            continue
        with engine.connect() as conn:
            first_poll = seen_before.first_poll_id if seen_before is not None else poll_id
            previous_poll_at = _previous_poll_at(conn, first_poll)
        landed_at = max(entry.modified_at, previous_poll_at) if previous_poll_at else entry.modified_at
        arrival = {
            "landed_at": landed_at,
            "modified_at": entry.modified_at,
            "previous_poll_at": previous_poll_at,
            "first_poll_id": first_poll,
            "first_seen_at": listed_at,
            "run_id": run_id,
        }
        if entry.size > limit:
            _refuse_too_large(engine, entry, _Oversize(entry.size, limit, grew=False), arrival)
            result.refused += 1
            continue
        try:
            content = storage.read(inbox, entry, limit)
        except FileNotFoundError:
            log.warning("%s was removed between listing and reading; not collected", one_line(entry.relative))
            continue
        if len(content) > limit:  # it grew after it was listed
            oversize = _Oversize(max(entry.size, len(content)), limit, grew=True)
            _refuse_too_large(engine, entry, oversize, arrival)
            result.refused += 1
            continue
        sha256 = storage.sha256_of(content)
        file_id = f"{entry.folder}/{sha256}"
        with engine.connect() as conn:
            before = conn.execute(select(t.c.file_id).where(t.c.file_id == file_id)).first()
        if before is not None:
            log.info(
                "%s has the content of a file already received (%s); not processed again",
                one_line(entry.relative),
                file_id,
            )
            with engine.begin() as conn:
                _record_skip(conn, entry, _Sighting(poll_id, polled_at, storage.DUPLICATE_CONTENT, file_id))
            continue
        try:
            uri = storage.archive(archive, sha256, entry, content)
        except storage.ArchiveError as exc:
            log.error("%s", exc)
            with engine.begin() as conn:
                _record_skip(conn, entry, _Sighting(poll_id, polled_at, storage.ARCHIVE_FAILED, str(exc)))
            failures.append(exc)
            continue
        with engine.begin() as conn:
            inserted = _register(
                conn,
                {
                    **arrival,
                    "file_id": file_id,
                    "unit_folder": entry.folder,
                    "sha256": sha256,
                    "file_name": entry.name,
                    "size_bytes": len(content),
                    "archive_uri": uri,
                    "status": "received",
                },
            )
            conn.execute(skips_table.delete().where(skips_table.c.entry_key == entry.key))
        if not inserted:  # a concurrent poll registered the same content a moment ago
            continue
        result.new += 1
        result.file_ids.append(file_id)
        log.info(
            "New file %s (%s bytes, stored %s, landed %s) archived at %s",
            one_line(entry.relative),
            len(content),
            entry.modified_at,
            landed_at,
            uri,
        )
    if failures:
        raise storage.ArchiveError(
            f"{len(failures)} file(s) could not be archived and were not collected "
            f"(the next poll retries them); first: {failures[0]}"
        ) from failures[0]
    return result


def _record_poll(conn: Connection, polled_at: datetime, listed_at: datetime, run_id: str, result) -> int:
    from recruitment_month.schema import audit_inbox_poll as p

    inserted = conn.execute(
        p.insert().values(
            polled_at=polled_at, listed_at=listed_at, run_id=run_id, files=result.seen, skipped=result.skipped
        )
    )
    return int(inserted.inserted_primary_key[0])


def _previous_poll_at(conn: Connection, poll_id: int) -> datetime | None:
    """The time of the last poll before ``poll_id``: a file it did not see landed after it."""
    from sqlalchemy import select

    from recruitment_month.schema import audit_inbox_poll as p

    return conn.execute(
        select(p.c.polled_at).where(p.c.poll_id < poll_id).order_by(p.c.poll_id.desc()).limit(1)
    ).scalar_one_or_none()


def _register(conn: Connection, row: dict) -> bool:
    """Insert the file's row unless its id is there already; True when this call inserted it."""
    from sqlalchemy import select

    from recruitment_month import schema, warehouse

    t = schema.audit_inbox_file
    if conn.execute(select(t.c.file_id).where(t.c.file_id == row["file_id"])).first() is not None:
        return False
    warehouse.insert_ignore(conn, t, [row], ["file_id"])
    return True


def _record_skips(conn: Connection, entries, skips: dict, poll_id: int, polled_at: datetime) -> None:
    """This poll's sighting of every entry that is not a report file, or was not collected before."""
    for entry in entries:
        if entry.skip is not None:
            _record_skip(conn, entry, _Sighting(poll_id, polled_at, entry.skip), known=skips.get(entry.key))
        elif entry.key in skips:
            sighting = _Sighting(poll_id, polled_at, skips[entry.key].reason)
            _record_skip(conn, entry, sighting, known=skips[entry.key])


@dataclass(frozen=True)
class _Sighting:
    """One poll's sighting of an inbox entry that is not collected, and why."""

    poll_id: int
    polled_at: datetime
    reason: str
    detail: str | None = None


def _record_skip(conn: Connection, entry, sighting: _Sighting, *, known=None) -> None:
    """Insert the entry's row, or move its last sighting to this poll (once per poll)."""
    from sqlalchemy import select, update

    from recruitment_month import warehouse
    from recruitment_month.schema import audit_inbox_skip as s

    poll_id, polled_at = sighting.poll_id, sighting.polled_at
    reason, detail = sighting.reason, sighting.detail
    if known is None:
        known = conn.execute(select(s).where(s.c.entry_key == entry.key)).first()
    if known is None:
        warehouse.insert_ignore(
            conn,
            s,
            [
                {
                    "entry_key": entry.key,
                    "unit_folder": entry.folder or None,
                    "path": entry.relative,
                    "reason": reason,
                    "detail": detail,
                    "size_bytes": entry.size,
                    "modified_at": entry.modified_at,
                    "first_poll_id": poll_id,
                    "last_poll_id": poll_id,
                    "first_seen_at": polled_at,
                    "last_seen_at": polled_at,
                    "polls": 1,
                }
            ],
            ["entry_key"],
        )
        return
    values = {"reason": reason, "detail": detail} if detail is not None else {}
    conn.execute(
        update(s)
        .where(s.c.entry_key == entry.key, s.c.last_poll_id != poll_id)
        .values(last_poll_id=poll_id, last_seen_at=polled_at, polls=s.c.polls + 1, **values)
    )
    if values:
        conn.execute(update(s).where(s.c.entry_key == entry.key).values(**values))


# What an alert about a skipped entry tells the engineer to do, by reason.
SKIP_ADVICE = {
    "temporary_upload": "An upload that never completed, or a hidden file. If the unit's report is missing, "
    "ask the unit to upload it again; delete the entry once it is no longer needed.",
    "office_lock": "Office's lock file, left behind while a workbook was open or after Office crashed. "
    "Delete it; if the unit's report itself is missing, ask the unit to upload it.",
    "link": "Symbolic links are not followed. Put the file itself into the unit's folder (it is then "
    "collected as a new file) and remove the link.",
    "not_a_regular_file": "A pipe, socket or device in the inbox. Remove it and find what created it.",
    "outside_unit_folder": "Files belong in <inbox>/<unit_code>/. Find which unit sent it (its content, the "
    "upload log), move it into that unit's folder (it is then collected as a new file), or delete it.",
    "folder_name_too_long": "No unit's folder has such a name (unit folders are the 6-digit codes). Check "
    "the upload areas' configuration and move the file into its unit's folder.",
    "archive_failed": "The archive could not store the file (the detail says why: a full disk, missing "
    "permissions). Fix the archive; the next poll collects the file, with its original landing time.",
}


def _alert_stale_skips(conn: Connection, poll_id: int) -> None:
    """Tell the data engineers, once per entry, about every skipped entry this poll saw again: an
    upload in progress is gone by the next poll, one that stays needs a person."""
    from sqlalchemy import select, update

    from recruitment_month import config, notifications
    from recruitment_month.notifications import Mail
    from recruitment_month.reports.inbox import DUPLICATE_CONTENT
    from recruitment_month.schema import audit_inbox_skip as s
    from recruitment_month.text import one_line

    stale = (
        conn.execute(
            select(s)
            .where(
                s.c.last_poll_id == poll_id,
                s.c.polls >= 2,
                s.c.reported_at.is_(None),
                s.c.reason != DUPLICATE_CONTENT,
            )
            .order_by(s.c.first_poll_id, s.c.path)
        )
        .mappings()
        .all()
    )
    if not stale:
        return
    engineers = list(config.campaign().recipients.data_engineers)
    mails = []
    for row in stale:
        path = one_line(row["path"], 300)
        lines = [
            f"An entry of the provincial inbox is not processed as a report ({row['reason']}) and has stayed "
            f"for {row['polls']} polls (first seen {row['first_seen_at'].isoformat()}).",
            "",
            f"Path: {path}",
            f"Size: {row['size_bytes']} bytes; storage time: "
            f"{row['modified_at'].isoformat() if row['modified_at'] else 'none'}",
            *([f"Detail: {one_line(row['detail'], 1000)}"] if row["detail"] else []),
            "",
            f"What to do: {SKIP_ADVICE.get(row['reason'], 'Look at the entry and remove or move it.')}",
            f"Audit row: audit_inbox_skip.entry_key = {row['entry_key']}",
        ]
        mails.append(
            Mail(
                key=f"inbox_skip/{row['entry_key']}",
                kind="inbox_alert",
                subject_ref=row["entry_key"],
                recipients=engineers,
                subject=one_line(
                    f"[校园招聘月数据平台] 收件箱文件未处理 Inbox entry skipped ({row['reason']}): {path}"
                ),
                text="\n".join(lines),
            )
        )
    notifications.enqueue(conn, mails, owner=OWNER)
    conn.execute(
        update(s)
        .where(s.c.entry_key.in_([r["entry_key"] for r in stale]))
        .values(reported_at=datetime.now(UTC))
    )
    log.warning(
        "%s skipped inbox entr(ies) stayed since the previous poll; the data engineers are told", len(stale)
    )


def _mebibytes(size: int) -> str:
    return f"{size / (1 << 20):.1f} MB"


@dataclass(frozen=True)
class _Oversize:
    """A file's size above the limit; ``grew`` when it grew after it was listed (then it is at least that)."""

    size: int
    limit: int
    grew: bool


def _refuse_too_large(engine: Engine, entry, oversize: _Oversize, arrival: dict) -> None:
    """Register the file *rejected* (rule ``file_too_large``) without reading or archiving it; its id is
    the hash of its listing. Its rejection notice is written to the outbox with it; ``run_process``
    reports it and ``notify`` sends the notice."""
    from recruitment_month import config, notifications, schema
    from recruitment_month.reports.messages import for_outcome
    from recruitment_month.text import one_line

    size, limit, grew = oversize.size, oversize.limit, oversize.grew
    file_id = f"{entry.folder}/{entry.key}"
    problem = Problem(
        rule="file_too_large",
        severity=Severity.REJECT,
        field=None,
        value=str(size),
        message=(
            f"文件大小为{'至少' if grew else ''} {_mebibytes(size)}（{size:,} 字节），超过了每份周报 "
            f"{_mebibytes(limit)}（{limit:,} 字节）的上限，系统未读取也未保存该文件。"
            "一份周报通常不足 1 MB：请确认上传的是本单位的周报（教育部模板 .xlsx，或 CSV / JSON 格式），"
            "删除多余的工作表、图片或附件后重新上传。"
        ),
    )
    with engine.begin() as conn:
        inserted = _register(
            conn,
            {
                **arrival,
                "file_id": file_id,
                "unit_folder": entry.folder,
                "sha256": None,
                "file_name": entry.name,
                "size_bytes": entry.size,  # as listed, so that the next poll knows it
                "archive_uri": None,
                "status": "rejected",
                "processed_at": datetime.now(UTC),
            },
        )
        if not inserted:
            return
        conn.execute(
            schema.audit_report_problem.insert(),
            [
                {
                    "file_id": file_id,
                    "seq": 1,
                    "rule": problem.rule,
                    "severity": str(problem.severity),
                    "field": problem.field,
                    "value": problem.value,
                    "row_number": None,
                    "cell": None,
                    "message": problem.message,
                }
            ],
        )
        # The notice is decided with the refusal: both are committed, or neither.
        (stored,) = _stored_outcomes(conn, [file_id])
        notifications.enqueue(
            conn, for_outcome(stored, config.campaign(), config.units().by_code()), owner=OWNER
        )
    log.warning(
        "Refused %s unread: %s bytes, above the limit of %s bytes (file id %s)",
        one_line(entry.relative),
        size,
        limit,
        file_id,
    )


@dataclass
class FileOutcome:
    file_id: str
    folder: str
    file_name: str
    landed_at: datetime
    status: str  # accepted | rejected
    unit_code: str | None = None
    week_ending: date | None = None
    revision: int | None = None
    timeliness: str | None = None
    problems: list[Problem] = field(default_factory=list)
    record: dict | None = None
    # For a correction (revision > 1): when the week's first accepted report landed, and the figures
    # of the revision it replaces.
    first_landed_at: datetime | None = None
    replaced: dict | None = None


def _read_archived(uri: str) -> bytes:
    import fsspec

    with fsspec.open(uri, "rb") as handle:
        return handle.read()


def current_reports(conn: Connection, first_week: date, last_week: date) -> list[dict]:
    """The current (latest accepted) revision of every report of the weeks in [first_week, last_week]."""
    from sqlalchemy import func, select

    from recruitment_month.schema import core_report as r

    newer = r.alias("newer")
    latest = (
        select(func.max(newer.c.revision))
        .where(newer.c.unit_code == r.c.unit_code, newer.c.week_ending == r.c.week_ending)
        .scalar_subquery()
    )
    query = select(r).where(r.c.week_ending.between(first_week, last_week), r.c.revision == latest)
    return [dict(row) for row in conn.execute(query).mappings()]


def _frame(records: list[dict]):
    import pandas as pd

    from recruitment_month.reports.fields import RECORD_KEYS

    frame = pd.DataFrame.from_records(records, columns=list(RECORD_KEYS))
    frame["week_ending"] = frame["week_ending"].map(lambda d: d.isoformat() if isinstance(d, date) else d)
    return frame


def process(engine: Engine, *, run_id: str = "") -> list[FileOutcome]:
    """Parse, validate and load every file still *received*, in landing order, each on its own.

    Each file is parsed in a child process with limits (``reports/isolation.py``). A file whose parse
    breaks (an error, memory or time exhausted, the child killed) is tried again up to
    ``parse_limits.attempts`` times, counted in the warehouse so that a task killed mid-file counts
    too, and then quarantined: rejected with the rule ``parse_crashed``, its unit told, the data
    engineers alerted. Every other file of the run goes on as if it were not there."""
    from sqlalchemy import select

    from recruitment_month import config, quality, schema
    from recruitment_month.reports.isolation import IsolatedParser

    campaign = config.campaign()
    units = config.units().by_code()
    limits = campaign.parse_limits
    t = schema.audit_inbox_file
    with engine.connect() as conn:
        pending = (
            conn.execute(select(t).where(t.c.status == "received").order_by(t.c.landed_at, t.c.file_id))
            .mappings()
            .all()
        )
    if not pending:
        return []

    outcomes: list[FileOutcome] = []
    with IsolatedParser(memory_mb=limits.memory_mb, seconds=limits.seconds) as parser:
        for row in pending:
            outcome = FileOutcome(
                row["file_id"], row["unit_folder"], row["file_name"], row["landed_at"], "rejected"
            )
            outcomes.append(outcome)
            if row["unit_folder"] not in units:
                outcome.problems.append(
                    Problem(
                        rule="folder_unknown",
                        severity=Severity.REJECT,
                        field="unit_folder",
                        value=row["unit_folder"],
                        message=f"文件放在了目录“{row['unit_folder']}”中，它不是32个填报单位的代码；每个单位只能向自己的目录（6位单位代码）报送。",
                    )
                )
                continue
            parsed = _parse_isolated(engine, parser, row, campaign)
            if parsed is None:
                outcome.problems.append(_quarantine_problem())
                continue
            _apply_parse(outcome, parsed, row, units)

    # Great Expectations over every readable record of this run at once.
    candidates = [o for o in outcomes if o.record is not None]
    if candidates:
        frame = _frame([o.record for o in candidates])
        result = quality.validate(
            frame,
            SUITE,
            {"unit_codes": sorted(units), "weeks": [w.isoformat() for w in campaign.weeks]},
        )
        with engine.begin() as conn:
            quality.record(
                conn,
                result,
                run_key=f"{SUITE}/{run_id or 'manual'}/{candidates[0].file_id}",
                target=f"{len(candidates)} inbox file(s)",
            )
        already = {(id(o), p.rule, p.field) for o in candidates for p in o.problems}
        for position, outcome in enumerate(candidates):
            for failure in result.failures_for(position):
                key = (id(outcome), failure.rule, failure.column)
                if key in already:  # the parser said it already, in the sender's terms
                    continue
                already.add(key)
                outcome.problems.append(
                    Problem(
                        rule=failure.rule,
                        severity=failure.severity,
                        field=failure.column,
                        value=None if failure.value is None else str(failure.value),
                        message=failure.message,
                    )
                )

    for outcome in outcomes:
        _load_isolated(engine, outcome, campaign, run_id)
    return outcomes


def _apply_parse(outcome: FileOutcome, parsed, row, units: dict) -> None:
    """What the parser found, and whether the unit it names is the folder's."""
    outcome.problems.extend(parsed.problems)
    outcome.record = parsed.record
    declared = parsed.record or parsed.declared
    outcome.unit_code = declared.get("unit_code")
    outcome.week_ending = declared.get("week_ending")
    if outcome.unit_code and outcome.unit_code != row["unit_folder"]:
        other = units.get(outcome.unit_code)
        outcome.problems.append(
            Problem(
                rule="unit_folder_mismatch",
                severity=Severity.REJECT,
                field="unit_code",
                value=outcome.unit_code,
                message=(
                    f"文件中填写的填报单位是“{other.name if other else outcome.unit_code}”（{outcome.unit_code}），"
                    f"但文件报送在“{units[row['unit_folder']].name}”（{row['unit_folder']}）的目录中。"
                    "每个单位只能报送本单位的数据，请核对填报单位代码。"
                ),
            )
        )


QUARANTINE_RULE = "parse_crashed"


def _quarantine_problem() -> Problem:
    """The notice's words for a file set aside: what happened and what to send instead (the notice
    itself names the file and when it landed)."""
    return Problem(
        rule=QUARANTINE_RULE,
        severity=Severity.REJECT,
        message=(
            "系统多次尝试读取该文件均未成功（文件可能已损坏，或含有系统无法安全处理的内容），"
            "该文件已被隔离，未计入统计。请用 Excel 或 WPS 打开教育部下发的模板重新填写，"
            "另存为新的 .xlsx 文件后再次报送；如仍无法报送，请与教育部高校学生司联系。"
        ),
    )


def _alert_quarantine(conn: Connection, outcome: FileOutcome) -> None:
    from sqlalchemy import select

    from recruitment_month.alerts import Alert, raise_alert
    from recruitment_month.schema import audit_inbox_file as t

    row = conn.execute(select(t).where(t.c.file_id == outcome.file_id)).mappings().one()
    alert = Alert(
        key=f"quarantine/{outcome.file_id}",
        subject_ref=outcome.file_id,
        title=f"文件已隔离 Report file quarantined: {outcome.folder}/{outcome.file_name}",
        text="\n".join(
            [
                f"The file {outcome.file_name!r} from unit folder {outcome.folder} broke processing "
                f"{row['attempts']} time(s) and is quarantined (rule {QUARANTINE_RULE}).",
                f"Last error: {row['last_error']}",
                f"Archived original: {row['archive_uri']}",
                "The unit has been sent a rejection notice asking for a new file; every other file was processed.",
                "To retry it after a fix: set its audit_inbox_file row back to status 'received' and attempts 0.",
            ]
        ),
        kind="file_quarantined",
    )
    raise_alert(conn, alert)


def _count_attempt(engine: Engine, file_id: str, error: str | None = None) -> int:
    """Record that processing ``file_id`` starts again (or why it broke); returns the attempts so far."""
    from sqlalchemy import select, update

    from recruitment_month.schema import audit_inbox_file as t

    with engine.begin() as conn:
        if error is None:
            conn.execute(update(t).where(t.c.file_id == file_id).values(attempts=t.c.attempts + 1))
        else:
            conn.execute(update(t).where(t.c.file_id == file_id).values(last_error=error[:2000]))
        return conn.execute(select(t.c.attempts).where(t.c.file_id == file_id)).scalar_one()


def _parse_isolated(engine: Engine, parser, row, campaign):
    """The file's ParseResult, or None once it has broken the parser ``attempts`` times."""
    from recruitment_month.reports.isolation import ParseCrashed

    limit = campaign.parse_limits.attempts
    if row["attempts"] >= limit:  # the task died on the last try: quarantine without another
        return None
    content = _read_archived(row["archive_uri"])
    while True:
        attempt = _count_attempt(engine, row["file_id"])
        try:
            return parser.parse(content, row["file_name"], max_bytes=campaign.max_report_file_bytes)
        except ParseCrashed as exc:
            log.error("%s (%s): attempt %d of %d: %s", row["file_id"], row["file_name"], attempt, limit, exc)
            _count_attempt(engine, row["file_id"], error=exc.reason)
            if attempt >= limit:
                return None


def _load_isolated(engine: Engine, outcome: FileOutcome, campaign, run_id: str) -> None:
    """``_load``, with a failure that belongs to this file kept to this file: it stays *received* for
    the next run and is quarantined once it has failed ``attempts`` times. A failure of the warehouse
    itself (connection lost, database locked) fails the task as before: no file is to blame."""
    from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

    try:
        _load(engine, outcome, campaign, run_id)
    except (OperationalError, ConnectionError):
        raise
    except (DBAPIError, SQLAlchemyError, ValueError, TypeError, KeyError) as exc:
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            raise
        error = f"loading failed: {type(exc).__name__}: {exc}"
        log.exception("%s (%s): %s", outcome.file_id, outcome.file_name, error)
        attempts = _count_attempt(engine, outcome.file_id)
        _count_attempt(engine, outcome.file_id, error=error)
        if attempts >= campaign.parse_limits.attempts:
            quarantined = FileOutcome(
                outcome.file_id, outcome.folder, outcome.file_name, outcome.landed_at, "rejected"
            )
            quarantined.problems.append(_quarantine_problem())
            _load(engine, quarantined, campaign, run_id)


def _load(engine: Engine, outcome: FileOutcome, campaign, run_id: str) -> None:
    """One file, one transaction: the report (if accepted), its problems, the file's status."""
    from sqlalchemy import delete, func, select, update

    from recruitment_month import config, notifications, schema, status, warehouse
    from recruitment_month.reports.fields import COUNT_KEYS, cumulative_key
    from recruitment_month.reports.messages import for_outcome
    from recruitment_month.reports.rules import check_history

    now = datetime.now(UTC)
    with engine.begin() as conn:
        current = conn.execute(
            select(schema.audit_inbox_file.c.status).where(
                schema.audit_inbox_file.c.file_id == outcome.file_id
            )
        ).scalar_one()
        if current != "received":  # another run got there first
            return
        if outcome.record is not None and not any(p.severity is Severity.REJECT for p in outcome.problems):
            history = current_reports(conn, campaign.weeks[0], campaign.weeks[-1])
            unit, week = outcome.unit_code, outcome.week_ending
            own = [h for h in history if h["unit_code"] == unit and h["week_ending"] != week]
            peers = [h for h in history if h["unit_code"] != unit and h["week_ending"] == week]
            outcome.problems.extend(check_history(outcome.record, own, peers))
            revision = (
                conn.execute(
                    select(func.max(schema.core_report.c.revision)).where(
                        schema.core_report.c.unit_code == unit, schema.core_report.c.week_ending == week
                    )
                ).scalar()
                or 0
            ) + 1
            outcome.status = "accepted"
            outcome.revision = revision
            # The week's timeliness is its first accepted report's; a correction keeps it.
            first = status.first_accepted(conn, week, outcome.landed_at).get(unit, outcome.landed_at)
            outcome.timeliness = status.timeliness(first, campaign.deadline(week))
            row = {
                "unit_code": unit,
                "week_ending": week,
                "revision": revision,
                "file_id": outcome.file_id,
                "landed_at": outcome.landed_at,
                "timeliness": outcome.timeliness,
                "warning_count": len(outcome.problems),
                "loaded_at": now,
            }
            for key in ("contact_name", "contact_phone", "highlights", "problems"):
                row[key] = outcome.record.get(key) or None
            for key in COUNT_KEYS:
                row[key] = int(outcome.record[key])
                row[cumulative_key(key)] = int(outcome.record[cumulative_key(key)])
            warehouse.insert_ignore(conn, schema.core_report, [row], ["file_id"])
        conn.execute(
            delete(schema.audit_report_problem).where(
                schema.audit_report_problem.c.file_id == outcome.file_id
            )
        )
        if outcome.problems:
            conn.execute(
                schema.audit_report_problem.insert(),
                [
                    {
                        "file_id": outcome.file_id,
                        "seq": seq,
                        "rule": p.rule,
                        "severity": str(p.severity),
                        "field": p.field,
                        "value": None if p.value is None else str(p.value)[:500],
                        "row_number": p.row,
                        "cell": p.cell,
                        "message": p.message,
                    }
                    for seq, p in enumerate(outcome.problems, start=1)
                ],
            )
        conn.execute(
            update(schema.audit_inbox_file)
            .where(schema.audit_inbox_file.c.file_id == outcome.file_id)
            .values(
                status=outcome.status,
                unit_code=outcome.unit_code
                if outcome.unit_code and len(str(outcome.unit_code)) == 6
                else None,
                week_ending=outcome.week_ending if isinstance(outcome.week_ending, date) else None,
                revision=outcome.revision,
                processed_at=now,
                run_id=run_id,
            )
        )
        # The receipt or notice is decided with the outcome: both are committed, or neither.
        (stored,) = _stored_outcomes(conn, [outcome.file_id])
        notifications.enqueue(conn, for_outcome(stored, campaign, config.units().by_code()), owner=OWNER)
        if any(p.rule == QUARANTINE_RULE for p in outcome.problems):
            _alert_quarantine(conn, outcome)
    log.info(
        "%s %s: %s%s",
        outcome.file_id,
        outcome.file_name,
        outcome.status,
        "".join(
            f"\n  [{p.severity}] {p.rule} {p.field or ''}={p.value!r}: {p.message}" for p in outcome.problems
        ),
    )


def stored_outcomes(engine: Engine, file_ids: list[str]) -> list[FileOutcome]:
    """Processed files as the warehouse holds them (what the messages and the run report read)."""
    if not file_ids:
        return []
    with engine.connect() as conn:
        return _stored_outcomes(conn, file_ids)


def _stored_outcomes(conn: Connection, file_ids: list[str]) -> list[FileOutcome]:
    from sqlalchemy import select

    from recruitment_month import schema
    from recruitment_month.reports.fields import RECORD_KEYS

    f, r, p = schema.audit_inbox_file, schema.core_report, schema.audit_report_problem
    outcomes = []
    files = (
        conn.execute(select(f).where(f.c.file_id.in_(file_ids)).order_by(f.c.landed_at, f.c.file_id))
        .mappings()
        .all()
    )
    reports = {
        row["file_id"]: dict(row)
        for row in conn.execute(select(r).where(r.c.file_id.in_(file_ids))).mappings()
    }
    problems: dict[str, list[Problem]] = {}
    for row in conn.execute(
        select(p).where(p.c.file_id.in_(file_ids)).order_by(p.c.file_id, p.c.seq)
    ).mappings():
        problems.setdefault(row["file_id"], []).append(
            Problem(
                rule=row["rule"],
                severity=Severity(row["severity"]),
                message=row["message"],
                field=row["field"],
                value=row["value"],
                row=row["row_number"],
                cell=row["cell"],
            )
        )
    for row in files:
        if row["status"] == "received":
            continue
        report = reports.get(row["file_id"])
        outcomes.append(
            FileOutcome(
                file_id=row["file_id"],
                folder=row["unit_folder"],
                file_name=row["file_name"],
                landed_at=row["landed_at"],
                status=row["status"],
                unit_code=row["unit_code"],
                week_ending=row["week_ending"],
                revision=row["revision"],
                timeliness=report["timeliness"] if report else None,
                problems=problems.get(row["file_id"], []),
                record={k: report.get(k) for k in RECORD_KEYS} if report else None,
            )
        )
        if report and report["revision"] > 1:
            outcomes[-1].first_landed_at, outcomes[-1].replaced = _replaced(conn, report)
    return outcomes


def _replaced(conn: Connection, report: dict) -> tuple[datetime, dict | None]:
    """For a correction: the landing time of the week's first accepted report, and the figures of
    the revision it replaces."""
    from sqlalchemy import func, select

    from recruitment_month.reports.fields import RECORD_KEYS
    from recruitment_month.schema import core_report as r

    same = (r.c.unit_code == report["unit_code"], r.c.week_ending == report["week_ending"])
    first = conn.execute(select(func.min(r.c.landed_at)).where(*same)).scalar_one()
    previous = (
        conn.execute(select(r).where(*same, r.c.revision == report["revision"] - 1)).mappings().one_or_none()
    )
    return first, {k: previous.get(k) for k in RECORD_KEYS} if previous else None


def notify(engine: Engine) -> dict[str, int]:
    """Send the receipts and notices waiting in the outbox (each written with its file's outcome),
    and the alerts, oldest first; whichever run wrote them."""
    from recruitment_month import notifications

    return notifications.deliver(engine, [OWNER, notifications.ALERTS])


def record_load(engine: Engine, *, load_key: str, dag_id: str, task_id: str, counts: dict) -> None:
    """The run report in the audit layer (rerunning the same run overwrites it)."""
    from recruitment_month import schema, warehouse

    with engine.begin() as conn:
        warehouse.upsert(
            conn,
            schema.audit_load,
            [
                {
                    "load_key": load_key,
                    "dag_id": dag_id,
                    "task_id": task_id,
                    "subject": "provincial_reports",
                    "interval_start": None,
                    "interval_end": None,
                    "counts": counts,
                    "finished_at": datetime.now(UTC),
                }
            ],
            ["load_key"],
        )


def run_process(engine: Engine, *, run_id: str, collected: dict | None = None) -> dict:
    """``process`` plus the run report: what this run (all its tries) processed, in the log and audit."""
    from sqlalchemy import select

    from recruitment_month import schema

    process(engine, run_id=run_id)
    f = schema.audit_inbox_file
    with engine.connect() as conn:
        file_ids = list(
            conn.execute(
                select(f.c.file_id)
                .where(f.c.run_id == run_id, f.c.status != "received")
                .order_by(f.c.landed_at)
            ).scalars()
        )
    outcomes = stored_outcomes(engine, file_ids)
    accepted = [o for o in outcomes if o.status == "accepted"]
    summary = {
        "file_ids": file_ids,
        "seen": (collected or {}).get("seen"),
        "new": (collected or {}).get("new"),
        "processed": len(outcomes),
        "accepted": len(accepted),
        "rejected": sum(o.status == "rejected" for o in outcomes),
        "late": sum(o.timeliness == "late" for o in accepted),
        "revisions": sum((o.revision or 0) > 1 for o in accepted),
        "warnings": sum(p.severity is Severity.WARN for o in accepted for p in o.problems),
        "accepted_weeks": sorted({o.week_ending.isoformat() for o in accepted}),
        "rejections_by_rule": _count_rules(o for o in outcomes if o.status == "rejected"),
    }
    record_load(
        engine,
        load_key=f"provincial_reports/{run_id}",
        dag_id="provincial_reports",
        task_id="process",
        counts={k: v for k, v in summary.items() if k != "file_ids"},
    )
    log.info(
        "Run report: %s file(s) seen, %s new; %s processed: %s accepted (%s late, %s revisions, %s warnings), "
        "%s rejected %s",
        summary["seen"],
        summary["new"],
        summary["processed"],
        summary["accepted"],
        summary["late"],
        summary["revisions"],
        summary["warnings"],
        summary["rejected"],
        summary["rejections_by_rule"],
    )
    return summary


def _count_rules(outcomes) -> dict[str, int]:
    counts: dict[str, int] = {}
    for outcome in outcomes:
        for problem in outcome.problems:
            if problem.severity is Severity.REJECT:
                counts[problem.rule] = counts.get(problem.rule, 0) + 1
    return dict(sorted(counts.items()))


def catch_up(engine: Engine, *, run_id: str) -> dict:
    """Everything ``provincial_reports`` does, at once: run before a summary or a reminder so that a
    file landed minutes ago counts (the poll may not have seen it yet)."""
    collected = collect(engine, run_id=run_id)
    summary = run_process(engine, run_id=run_id, collected={"seen": collected.seen, "new": collected.new})
    summary["sent"] = notify(engine)
    return {k: v for k, v in summary.items() if k != "file_ids"}

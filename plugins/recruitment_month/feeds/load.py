"""Feed items into the warehouse: normalise, validate, stage, merge (docs/feeds.md).

One platform and one data interval make one *load*, merged in one transaction:

1. every item is hashed (its compact JSON text and the rules that normalise it); an item identical to
   the one its posting was last delivered as would make the same posting again, so it only moves when
   the posting was seen (``stg_posting_seen``);
2. the other items are normalised (``feeds.normalise``); items that cannot be are quarantined with the
   rule;
3. the canonical postings are validated with ``include/expectations/job_posting.json``; postings that
   fail a critical expectation are quarantined too, and the validation is recorded;
4. the rest go to ``stg_posting`` (through the database's ``feeds.storage``: PostgreSQL binary
   ``COPY``, SQLite executemany), replacing the platform's previous load there, in the order of the
   primary key;
5. set-based SQL, the files ``include/sql/merge/*.sql`` in the order of ``MERGE_STEPS``, merges staging
   into ``core_posting`` (latest version; closed), ``core_posting_seen`` (first/last seen, item hash)
   and ``core_posting_version`` (the versions it replaced). A platform's first load has nothing to merge
   with: it runs ``include/sql/first_load/*.sql`` instead, or on PostgreSQL is copied straight into
   ``core_posting`` and ``core_posting_seen`` (steps 4–5 in one);
6. the run report (received, new, updated, unchanged and of those identical, quarantined) goes to the
   log and ``audit_load``.

Rerunning a load for the same interval leaves the warehouse as it was.
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from operator import itemgetter
from typing import TYPE_CHECKING

import msgspec
from xxhash import xxh3_128_hexdigest

from recruitment_month.feeds import identity
from recruitment_month.feeds.storage import Batch, Storage, storage_for
from recruitment_month.text import strip_control

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    from recruitment_month.config import Platform

log = logging.getLogger(__name__)

SUITE = "job_posting"
# A load that quarantines more than this share of at least QUARANTINE_ALERT_MIN items fails (after
# recording everything): a feed whose shape changed must reach an engineer, not fill the quarantine.
QUARANTINE_ALERT_SHARE = 0.5
QUARANTINE_ALERT_MIN = 20


class FeedShapeError(RuntimeError):
    """Most of a load was quarantined: the platform's feed probably changed shape."""


def load_id(platform_code: str, since: datetime, until: datetime) -> str:
    return f"{platform_code}/{since.astimezone(UTC):%Y%m%dT%H%M%SZ}/{until.astimezone(UTC):%Y%m%dT%H%M%SZ}"


@dataclass
class LoadReport:
    platform_code: str
    load_id: str
    received: int = 0
    staged: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    identical: int = 0  # of the unchanged: the same item as delivered last, not normalised again
    warnings: int = 0
    quarantine_by_rule: dict[str, int] = field(default_factory=dict)
    problems_by_rule: dict[str, int] = field(default_factory=dict)
    """Loaded postings with a field set aside or flagged, per rule (not counting those not normalised
    again because their item was delivered identical)."""
    samples: dict[str, list] = field(default_factory=dict)
    """Per rule: the first few [posting id, value] (what the alert quotes)."""

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@lru_cache(maxsize=64)
def _rules_digest(platform_json: str) -> bytes:
    """What the canonical posting of an item depends on besides the item: the code that normalises it,
    the reporting units (region names) and the platform's configuration (adapter, field map). A change to
    any of them changes every item's hash, so identical items are normalised again after an upgrade."""
    from pathlib import Path

    from recruitment_month import config
    from recruitment_month.feeds import creditcode, normalise

    digest = hashlib.blake2b(digest_size=16)
    for module in (normalise, creditcode, identity):
        digest.update(Path(module.__file__).read_bytes())
    digest.update(Path(__file__).read_bytes())
    digest.update(config.units().model_dump_json().encode())
    digest.update(platform_json.encode())
    return digest.digest()


def item_hasher(platform: Platform):
    """``hash(item)``: a digest of the feed item and of the rules that normalise it; None for an item
    that cannot be written as JSON. An item is its compact JSON text (``client.iter_item_texts``), hashed
    byte for byte, or a parsed dict, hashed as compact JSON: the key order counts, white space between
    tokens does not. An item written another way (other escapes, say) is only normalised again, to the
    same posting. XXH3-128, seeded with the rules' digest (see ``content_hash`` for why not a
    cryptographic hash)."""
    seed = int.from_bytes(_rules_digest(platform.model_dump_json())[:8], "little")
    text_types = _TEXT_TYPES
    encode = msgspec.json.Encoder().encode

    def item_hash(item: object) -> str | None:
        if item.__class__ in text_types:
            return xxh3_128_hexdigest(item, seed)
        try:
            return xxh3_128_hexdigest(encode(item), seed)
        except (TypeError, ValueError, msgspec.MsgspecError):
            return None

    return item_hash


# An item given as its JSON text (``client.iter_item_texts`` yields ``msgspec.Raw``).
_TEXT_TYPES: tuple[type, ...] = (msgspec.Raw, bytes, bytearray, memoryview)


def _item_parser():
    """A feed item's JSON text → the item (msgspec, or ``json`` for what msgspec refuses, e.g. NaN);
    text that is not JSON stays text, which the normaliser rejects as not an object."""
    decode = msgspec.json.Decoder().decode

    def parse(text: object) -> object:
        try:
            return decode(text)
        except msgspec.DecodeError:
            raw = bytes(text)
            try:
                return json.loads(raw)
            except ValueError:
                return raw.decode("utf-8", errors="replace")

    return parse


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused: a load builds hundreds of thousands of small objects that
    all live till its end (none in cycles), and every collection would walk them all again."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass
class Prepared:
    """A load's items, sorted: postings to validate and merge, ids of the items identical to the ones
    delivered last, and quarantine entries."""

    postings: list[dict]
    identical: list[tuple[str, str]]  # (posting id, item hash)
    quarantine: list[dict]
    received: int
    warned: dict[str, int] = field(default_factory=dict)
    """Loaded postings per warning rule (a posting counts once per rule)."""
    samples: dict[str, list[tuple[str | None, str | None]]] = field(default_factory=dict)
    """Per rule (warnings and quarantine alike): the first few (posting id, value)."""


SAMPLES_PER_RULE = 5


def _sample(samples: dict, rule: str, posting_id: str | None, value: str | None) -> None:
    kept = samples.setdefault(rule, [])
    if len(kept) < SAMPLES_PER_RULE:
        kept.append((posting_id, None if value is None else strip_control(value)[:80]))


def prepare(items: Iterable[object], platform: Platform, known: dict[str, str] | None = None) -> Prepared:
    """Normalise every item, except those whose hash is in ``known`` (item hash → posting id, of the item
    each stored posting was last delivered as): delivered again, such an item changes nothing but when the
    posting was seen, so only its id is kept."""
    from recruitment_month.feeds.normalise import normalise
    from recruitment_month.problems import Severity

    known = known or {}
    item_hash = item_hasher(platform)
    parse = _item_parser()
    text_types = _TEXT_TYPES
    postings: list[dict] = []
    identical: list[tuple[str, str]] = []
    quarantine: list[dict] = []
    warned: dict[str, int] = {}
    samples: dict[str, list] = {}
    received = 0
    for item in items:
        received += 1
        digest = item_hash(item)
        if known:
            stored = known.get(digest)
            if stored is not None:
                identical.append((stored, digest))
                continue
        if item.__class__ in text_types:
            item = parse(item)
        posting, problems = normalise(item, platform)
        if posting is None:
            first = next(p for p in problems if p.severity is Severity.REJECT)
            raw_id = _raw_id(item, platform)
            _sample(samples, first.rule, raw_id, first.value)
            quarantine.append(
                {
                    "posting_id": raw_id,
                    "rule": first.rule,
                    "field": first.field,
                    "message": strip_control("; ".join(p.message for p in problems)),
                    "raw": item,
                }
            )
            continue
        if problems:
            for rule in {p.rule: p for p in problems}.values():
                warned[rule.rule] = warned.get(rule.rule, 0) + 1
                _sample(samples, rule.rule, posting["posting_id"], rule.value)
        posting["content_hash"] = identity.content_hash(posting)
        posting["cluster_id"] = identity.cluster_id(posting)
        posting["item_hash"] = digest
        postings.append(posting)
    return Prepared(postings, identical, quarantine, received, warned, samples)


def _raw_id(item: object, platform: Platform) -> str | None:
    """The posting id of a quarantined item, as far as it has one (at most 200 characters)."""
    found = identity.item_posting_id(item, identity.id_keys(platform))
    return None if found is None else strip_control(found)[:200]


def validate(
    postings: list[dict], platform: Platform, run_key: str, engine: Engine
) -> tuple[list[dict], list[dict], int]:
    """Great Expectations over the load's postings: (valid postings, quarantined, warnings)."""
    import pandas as pd

    from recruitment_month import config, quality
    from recruitment_month.feeds.normalise import INDUSTRY_CATEGORIES, canonical_columns
    from recruitment_month.problems import Severity

    if not postings:
        return [], [], 0
    # Only the columns the suite checks: the descriptions and URLs would cost hashing, not checking.
    columns = [c for c in canonical_columns if c in set(quality.suite_columns(SUITE))]
    frame = pd.DataFrame.from_records(postings, columns=columns)
    outcome = quality.validate(
        frame,
        SUITE,
        {"unit_codes": [u.code for u in config.units().units], "industries": list(INDUSTRY_CATEGORIES)},
    )
    with engine.begin() as conn:
        quality.record(conn, outcome, run_key=run_key, target=f"{platform.code}: {len(frame)} postings")
    bad: dict[int, list] = {}
    warnings = 0
    for failure in outcome.failures:
        if failure.severity is Severity.REJECT and failure.row is not None:
            bad.setdefault(failure.row, []).append(failure)
        elif failure.severity is Severity.WARN:
            warnings += 1
    if not bad:
        return postings, [], warnings
    quarantined = [
        {
            "posting_id": postings[row]["posting_id"],
            "rule": failures[0].rule,
            "field": failures[0].column,
            "message": "; ".join(f"{f.message} ({f.column}={f.value!r})" for f in failures),
            "raw": dict(postings[row]),  # the canonical posting that failed
        }
        for row, failures in sorted(bad.items())
    ]
    return [p for i, p in enumerate(postings) if i not in bad], quarantined, warnings


# The merge from staging, in order: include/sql/merge/<step>.sql. Each is set-based and touches only
# rows it changes, so rerunning a load changes nothing; all run in one transaction that holds the
# platform's lock, so NOT EXISTS is safe and cheaper than ON CONFLICT.
MERGE_STEPS = (
    "01_version_history",
    "02_update_changed",
    "03_insert_new",
    "04_seen_staged",
    "05_seen_identical",
    "06_insert_seen",
    "07_close_expired",
)
# A platform's first load (it holds no postings yet) can only add: include/sql/first_load/<step>.sql
# insert every staged posting and when it was seen without looking for them in the core layer.
FIRST_LOAD_STEPS = ("01_insert_postings", "02_insert_seen")
_posting_id = itemgetter("posting_id")
_HOLDS_POSTINGS = "SELECT 1 FROM core_posting_seen WHERE platform_code = :platform_code LIMIT 1"
_STAGED = "SELECT COUNT(*) FROM stg_posting WHERE load_id = :load_id"


def _holds_none(conn: Connection, platform_code: str) -> bool:
    from sqlalchemy import text

    return conn.execute(text(_HOLDS_POSTINGS), {"platform_code": platform_code}).first() is None


def merge_steps(first: bool) -> list[str]:
    """The SQL files (names under ``include/sql/``) that merge a load from staging, in order; ``first``:
    the platform holds no postings yet."""
    return (
        [f"first_load/{name}" for name in FIRST_LOAD_STEPS]
        if first
        else [f"merge/{name}" for name in MERGE_STEPS]
    )


def _merge(conn: Connection, batch: Batch, *, first: bool) -> dict:
    """Staging merged into the core layer with the counts (staged, new, updated) of the load."""
    from sqlalchemy import bindparam, text

    from recruitment_month import warehouse
    from recruitment_month.schema import UTCDateTime

    params = {"load_id": batch.load_id, "seen_at": batch.seen_at, "platform_code": batch.platform_code}
    if first:
        staged = conn.execute(text(_STAGED), {"load_id": batch.load_id}).scalar_one()
        counts = {"staged": staged, "new": staged, "updated": 0}
    else:
        found = conn.execute(text(warehouse.sql("load_counts")), {"load_id": batch.load_id}).mappings().one()
        counts = {"staged": found["staged"], "new": found["inserted"], "updated": found["updated"]}
    for name in merge_steps(first):
        statement = text(warehouse.sql(name))
        names = set(statement.compile().params)
        if "seen_at" in names:
            statement = statement.bindparams(bindparam("seen_at", type_=UTCDateTime))
        conn.execute(statement, {k: v for k, v in params.items() if k in names})
    return {k: int(v or 0) for k, v in counts.items()}


def _quarantine(conn: Connection, load: str, platform_code: str, entries: list[dict]) -> None:
    from sqlalchemy import delete

    from recruitment_month.schema import audit_feed_quarantine as q

    conn.execute(delete(q).where(q.c.load_id == load))
    if entries:
        conn.execute(
            q.insert(),
            [
                {
                    "load_id": load,
                    "seq": seq,
                    "platform_code": platform_code,
                    "posting_id": e["posting_id"],
                    "rule": e["rule"],
                    "field": e["field"],
                    "message": e["message"][:2000],
                    "raw": json.dumps(e["raw"], ensure_ascii=False, default=str),
                }
                for seq, e in enumerate(entries, start=1)
            ],
        )


@dataclass(frozen=True)
class _Run:
    """One load's target and subject: where (the storage), what (the platform) and when (the interval)."""

    storage: Storage
    platform: Platform
    since: datetime
    until: datetime


def _load(run: _Run, items: Iterable[object], report: LoadReport) -> None:
    """The load itself, filling ``report`` (``load`` pauses the garbage collector around it)."""
    storage, platform = run.storage, run.platform
    with storage.engine.connect() as conn:
        known = storage.known_items(conn, platform.code)
    prepared = prepare(items, platform, known)
    report.received = prepared.received
    report.identical = len(prepared.identical)
    report.problems_by_rule = dict(sorted(prepared.warned.items()))
    report.samples = {rule: [list(s) for s in kept] for rule, kept in sorted(prepared.samples.items())}
    valid, failed, report.warnings = validate(
        prepared.postings, platform, f"{SUITE}/{report.load_id}", storage.engine
    )
    quarantined = prepared.quarantine + failed
    # In the primary key's order: PostgreSQL then adds to the key's index page after page instead of
    # all over it (a third less time for a platform's first load), and updates rows page after page.
    valid.sort(key=_posting_id)
    prepared.identical.sort()
    batch = Batch(report.load_id, run.until, platform.code, valid, prepared.identical)
    with storage.engine.begin() as conn:
        storage.lock_platform(conn, platform.code)
        counts = _write(conn, storage, batch)
        _quarantine(conn, report.load_id, platform.code, quarantined)
        _count(report, counts, quarantined)
        _audit(conn, run, report)
        dominant = _dominant(report)
        if dominant is not None:  # told to the engineers with the load, so a rerun does not repeat it
            _alert_dominant(conn, platform, report, *dominant)


def _write(conn: Connection, storage: Storage, batch: Batch) -> dict:
    """The batch into the core layer, under the platform's lock: a platform's first load only adds
    postings (whether it is one is checked under the lock: on PostgreSQL the advisory lock, on SQLite the
    write lock that staging's first write takes)."""
    if _holds_none(conn, batch.platform_code):
        counts = storage.first_load(conn, batch)
        if counts is not None:
            return counts
    storage.stage(conn, batch)
    storage.stage_seen(conn, batch)
    return _merge(conn, batch, first=_holds_none(conn, batch.platform_code))


def _count(report: LoadReport, counts: dict, quarantined: list[dict]) -> None:
    report.staged = counts["staged"] + report.identical
    report.new = counts["new"]
    report.updated = counts["updated"]
    report.unchanged = report.staged - report.new - report.updated
    report.quarantined = len(quarantined)
    for entry in quarantined:
        report.quarantine_by_rule[entry["rule"]] = report.quarantine_by_rule.get(entry["rule"], 0) + 1


def _audit(conn: Connection, run: _Run, report: LoadReport) -> None:
    from recruitment_month import warehouse
    from recruitment_month.schema import audit_load

    warehouse.upsert(
        conn,
        audit_load,
        [
            {
                "load_key": f"job_feeds/{report.load_id}",
                "dag_id": "job_feeds",
                "task_id": "load",
                "subject": run.platform.code,
                "interval_start": run.since,
                "interval_end": run.until,
                "counts": report.as_dict(),
                "finished_at": datetime.now(UTC),
            }
        ],
        ["load_key"],
    )


def _alert_dominant(conn: Connection, platform: Platform, report: LoadReport, rule: str, count: int) -> None:
    from recruitment_month.alerts import Alert, raise_alert

    alert = Alert(
        key=f"feed_defect/{report.load_id}/{rule}",
        subject_ref=platform.code,
        title=f"平台数据缺陷 Feed defect: {platform.code} — {count}/{report.received} postings: {rule}",
        text="\n".join(
            [
                f"{count} of the {report.received} postings of {platform.code} in {report.load_id} were loaded "
                f"with the problem {rule} ({_describe(report, rule)}).",
                "Each posting is loaded and counted with that field set aside (see core_posting.problems).",
                "A whole feed with one defect usually means the platform sends the field wrong: tell them.",
            ]
        ),
        kind="feed_defect",
    )
    raise_alert(conn, alert)


def load(
    target: Engine | Storage,
    platform: Platform,
    items: Iterable[object],
    *,
    since: datetime,
    until: datetime,
) -> LoadReport:
    """Normalise, validate, stage and merge one platform's items (parsed, or their JSON texts) for the
    interval [since, until). Items identical to the ones the postings were last delivered as are not
    normalised again: they only move when the postings were seen. ``target``: an engine (its dialect's
    storage with its defaults, see ``feeds.storage``) or a storage."""
    storage = target if isinstance(target, Storage) else storage_for(target)
    load_key = load_id(platform.code, since, until)
    report = LoadReport(platform.code, load_key)
    with _gc_paused():
        _load(_Run(storage, platform, since, until), items, report)
    if (
        report.received >= QUARANTINE_ALERT_MIN
        and report.quarantined > QUARANTINE_ALERT_SHARE * report.received
    ):
        rule, count = max(report.quarantine_by_rule.items(), key=lambda kv: kv[1])
        raise FeedShapeError(
            f"{platform.code}: {report.quarantined} of {report.received} postings quarantined in {load_key}, "
            f"{count} of them by the rule {rule} ({_describe(report, rule)}); all by rule: "
            f"{report.quarantine_by_rule}. A posting is only quarantined when it has no id, title, employer "
            "or modification time: see audit_feed_quarantine for the raw items and ask the platform, or "
            "map the field that carries it in the platform's field_map; then clear this task (the load is "
            "rerun to the same result)."
        )
    dominant = _dominant(report)
    if dominant is not None:
        rule, count = dominant
        log.warning(
            "%s %s: %d of %d postings loaded with the problem %s (%s): the field is set aside on each; "
            "a whole feed with one defect usually means the platform sends it wrong, tell them",
            platform.code,
            load_key,
            count,
            report.received,
            rule,
            _describe(report, rule),
        )
    log.info(
        "%s %s: received %d, new %d, updated %d, unchanged %d, quarantined %d %s, warnings %d",
        platform.code,
        load_key,
        report.received,
        report.new,
        report.updated,
        report.unchanged,
        report.quarantined,
        report.quarantine_by_rule,
        report.warnings,
    )
    return report


def _describe(report: LoadReport, rule: str) -> str:
    """The samples of a rule: 'e.g. id=value, ...'."""
    samples = report.samples.get(rule) or []
    shown = ", ".join(f"{pid}={value!r}" if value is not None else str(pid) for pid, value in samples)
    return f"e.g. {shown}" if shown else "no sample"


def _dominant(report: LoadReport) -> tuple[str, int] | None:
    """The warning rule most loaded postings share, when it is more than half a load of some size."""
    if report.received < QUARANTINE_ALERT_MIN or not report.problems_by_rule:
        return None
    rule, count = max(report.problems_by_rule.items(), key=lambda kv: kv[1])
    return (rule, count) if count > QUARANTINE_ALERT_SHARE * report.received else None


def duplicate_rates(engine: Engine) -> dict[str, dict]:
    """Per platform: postings, how many share a cluster with another platform, and the rate."""
    from sqlalchemy import text

    from recruitment_month import warehouse

    with engine.connect() as conn:
        rows = conn.execute(text(warehouse.sql("duplicate_rate"))).mappings().all()
    return {
        r["platform_code"]: {
            "postings": int(r["postings"]),
            "duplicates": int(r["duplicates"] or 0),
            "rate": (int(r["duplicates"] or 0) / int(r["postings"])) if r["postings"] else 0.0,
        }
        for r in rows
    }

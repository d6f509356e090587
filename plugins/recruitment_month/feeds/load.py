"""Feed items into the warehouse: normalise, validate, stage, merge (docs/feeds.md).

One platform and one data interval make one *load*, merged in one transaction:

1. every item is hashed (its compact JSON text and the rules that normalise it); an item identical to
   the one its posting was last delivered as would make the same posting again, so it only moves when
   the posting was seen (``stg_posting_seen``);
2. the other items are normalised (``feeds.normalise``); items that cannot be are quarantined with the
   rule;
3. the canonical postings are validated with ``include/expectations/job_posting.json``; postings that
   fail a critical expectation are quarantined too, and the validation is recorded;
4. the rest go to ``stg_posting`` (PostgreSQL: binary ``COPY``; SQLite: executemany), replacing the
   platform's previous load there, in the order of the primary key;
5. set-based SQL (``include/sql/merge_postings.sql``) merges staging into ``core_posting`` (latest
   version; closed), ``core_posting_seen`` (first/last seen, item hash) and ``core_posting_version``
   (the versions it replaced). A platform's first load has nothing to merge with: on PostgreSQL it is
   copied straight into ``core_posting`` and ``core_posting_seen`` instead (steps 4–5 in one);
6. the run report (received, new, updated, unchanged and of those identical, quarantined) goes to the
   log and ``audit_load``.

Rerunning a load for the same interval leaves the warehouse as it was.
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import re
import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from operator import itemgetter
from typing import TYPE_CHECKING

import msgspec
from xxhash import xxh3_128_hexdigest

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


# The columns whose content makes a version: everything but the keys and the modification time.
_CONTENT = (
    "title",
    "employer_name",
    "employer_credit_code",
    "province_code",
    "city",
    "industry_category",
    "education_level",
    "employment_type",
    "salary_min",
    "salary_max",
    "openings",
    "date_posted",
    "valid_through",
    "url",
    "description",
)
_EMPLOYER_NOISE = re.compile(r"(有限责任公司|股份有限公司|有限公司|集团|公司|分公司|[（(][^）)]*[）)]|\s)")
_CITY_SUFFIX = re.compile(r"(市|地区|自治州|盟|区|县)$")


def load_id(platform_code: str, since: datetime, until: datetime) -> str:
    return f"{platform_code}/{since.astimezone(UTC):%Y%m%dT%H%M%SZ}/{until.astimezone(UTC):%Y%m%dT%H%M%SZ}"


@lru_cache(maxsize=65536)
def employer_key(name: str) -> str:
    """An employer name without legal-form suffixes, branch notes and spaces (for matching reposts)."""
    return _EMPLOYER_NOISE.sub("", unicodedata.normalize("NFKC", name or "")).lower()


@lru_cache(maxsize=4096)
def _city_key(city: str | None) -> str:
    return _CITY_SUFFIX.sub("", unicodedata.normalize("NFKC", city or "").strip())


def cluster_id(posting: dict) -> str:
    """The same job on several platforms gets the same id: the employer (its credit code, or else its
    name without legal-form noise), the normalised title and the city (or else the province)."""
    employer = posting.get("employer_credit_code") or "n:" + employer_key(posting.get("employer_name") or "")
    place = _city_key(posting.get("city")) or (posting.get("province_code") or "")
    key = f"{employer}|{posting.get('title_key') or ''}|{place}"
    return hashlib.blake2b(key.encode(), digest_size=10).hexdigest()


_content_values = itemgetter(*_CONTENT)
_encode_json = msgspec.json.Encoder().encode


_FLAGS = ("employer_credit_code_raw", "salary_flagged", "problems")
_flag_values = itemgetter(*_FLAGS)


def content_hash(posting: dict) -> str:
    """A digest of what makes a version (the content columns as JSON; not the keys, not the modification
    time). XXH3-128: a fingerprint to compare versions, not a defence against a forger, and a tenth of
    the cost of a cryptographic hash over the long descriptions. What was set aside or flagged counts
    only when there is any (then ``problems`` is set), so a clean posting's digest is as it always was."""
    values = _content_values(posting)
    if posting.get("problems") is not None:
        values += _flag_values(posting)
    return xxh3_128_hexdigest(_encode_json(values))


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
    for module in (normalise, creditcode):
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
        posting["content_hash"] = content_hash(posting)
        posting["cluster_id"] = cluster_id(posting)
        posting["item_hash"] = digest
        postings.append(posting)
    return Prepared(postings, identical, quarantine, received, warned, samples)


def _raw_id(item, platform) -> str | None:
    if not isinstance(item, dict):
        return None
    if platform.adapter == "flat":
        value = item.get((platform.field_map or {}).get("posting_id", "posting_id"))
    else:
        value = item.get("identifier")
        if isinstance(value, dict):
            value = value.get("value")
    return None if value is None else strip_control(str(value))[:200]


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


def _copy(conn: Connection, table, rows: Iterable[tuple]) -> None:
    """PostgreSQL ``COPY … FROM STDIN`` of tuples in the order of the table's columns, in the binary
    format: half the cost of the text format, for the parsing of times and numbers it spares."""
    names = ", ".join(c.name for c in table.columns)
    raw = conn.connection.driver_connection
    with (
        raw.cursor() as cur,
        cur.copy(f"COPY {table.name} ({names}) FROM STDIN WITH (FORMAT BINARY)") as copy,
    ):
        copy.set_types([_binary_type(c) for c in table.columns])
        for row in rows:
            copy.write_row(row)


def _binary_type(column) -> str:
    """The PostgreSQL type psycopg writes a column's values as (text serves varchar columns too)."""
    kind = getattr(column.type, "impl", column.type).python_type  # a TypeDecorator: what it stores
    if kind is datetime:
        return "timestamptz"
    return {str: "text", int: "int4", date: "date", float: "float8", bool: "bool"}[kind]


def _stage(conn: Connection, rows: list[dict], load: str, seen_at: datetime, platform_code: str) -> None:
    from sqlalchemy import delete

    from recruitment_month.schema import stg_posting

    conn.execute(delete(stg_posting).where(stg_posting.c.platform_code == platform_code))
    if not rows:
        return
    columns = [c.name for c in stg_posting.columns]
    if conn.dialect.name == "postgresql":
        if (columns[0], columns[-1]) != ("load_id", "seen_at"):
            raise RuntimeError(f"stg_posting's columns are not in the expected order: {columns}")
        values = itemgetter(*columns[1:-1])
        head, tail = (load,), (seen_at,)
        _copy(conn, stg_posting, (head + values(row) + tail for row in rows))
    else:
        conn.execute(stg_posting.insert(), [{**row, "load_id": load, "seen_at": seen_at} for row in rows])


def _lock_platform(conn: Connection, platform_code: str) -> None:
    """One load of a platform merges at a time (loads of several intervals may run side by side): a
    transaction-level advisory lock on PostgreSQL; SQLite has a single writer anyway."""
    from sqlalchemy import text

    if conn.dialect.name == "postgresql":
        conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"job_feeds/{platform_code}"}
        )


def _stage_seen(
    conn: Connection, seen: list[tuple[str, str | None]], load: str, seen_at: datetime, platform_code: str
) -> None:
    """``stg_posting_seen``: (posting id, item hash) of the postings delivered identical to their last item."""
    from sqlalchemy import delete

    from recruitment_month.schema import stg_posting_seen as t

    conn.execute(delete(t).where(t.c.platform_code == platform_code))
    if not seen:
        return
    if conn.dialect.name == "postgresql":
        _copy(conn, t, ((load, platform_code, posting_id, digest, seen_at) for posting_id, digest in seen))
    else:
        conn.execute(
            t.insert(),
            [
                {
                    "load_id": load,
                    "platform_code": platform_code,
                    "posting_id": p,
                    "item_hash": d,
                    "seen_at": seen_at,
                }
                for p, d in seen
            ],
        )


def known_items(conn: Connection, platform_code: str) -> dict[str, str]:
    """Item hash → posting id, of the item each of the platform's postings was last delivered as."""
    from sqlalchemy import select

    from recruitment_month.schema import core_posting_seen as t

    query = select(t.c.item_hash, t.c.posting_id).where(
        t.c.platform_code == platform_code, t.c.item_hash.is_not(None)
    )
    if conn.dialect.name == "postgresql":  # plain tuples from the driver: a third of the time
        sql = "SELECT item_hash, posting_id FROM core_posting_seen WHERE platform_code = %s AND item_hash IS NOT NULL"
        with conn.connection.driver_connection.cursor() as cur:
            return dict(cur.execute(sql, (platform_code,)).fetchall())
    return dict(conn.execute(query).all())


# A platform's first load on PostgreSQL copies straight into the core layer (tests set it False to
# compare with the merge from staging).
FIRST_LOAD_COPY = True
_posting_id = itemgetter("posting_id")
_HOLDS_POSTINGS = "SELECT 1 FROM core_posting_seen WHERE platform_code = :platform_code LIMIT 1"
_STAGED = "SELECT COUNT(*) FROM stg_posting WHERE load_id = :load_id"
_EXISTING_ONLY = "-- (existing postings only: skipped when the platform holds none)"
_EXISTING_ONLY_LINE = "-- (existing postings only)"


def _holds_none(conn: Connection, platform_code: str) -> bool:
    from sqlalchemy import text

    return conn.execute(text(_HOLDS_POSTINGS), {"platform_code": platform_code}).first() is None


def _merge(conn: Connection, load: str, seen_at: datetime, platform_code: str, *, first: bool) -> dict:
    """``merge_postings.sql`` from staging; ``first``: the platform holds no postings yet."""
    from sqlalchemy import bindparam, text

    from recruitment_month import warehouse
    from recruitment_month.schema import UTCDateTime

    params = {"load_id": load, "seen_at": seen_at, "platform_code": platform_code}
    if first:
        staged = conn.execute(text(_STAGED), {"load_id": load}).scalar_one()
        counts = {"staged": staged, "new": staged, "updated": 0}
    else:
        counts = conn.execute(text(warehouse.sql("load_counts")), {"load_id": load}).mappings().one()
    for statement in warehouse.sql("merge_postings").split("\n;;\n"):
        if first:
            if _EXISTING_ONLY in statement:
                continue
            statement = "\n".join(
                line for line in statement.splitlines() if not line.endswith(_EXISTING_ONLY_LINE)
            )
        sql = text(statement)
        names = set(re.findall(r":(\w+)", statement))
        if "seen_at" in names:
            sql = sql.bindparams(bindparam("seen_at", type_=UTCDateTime))
        conn.execute(sql, {k: v for k, v in params.items() if k in names})
    return {k: int(v or 0) for k, v in counts.items()}


def _copy_first_load(
    conn: Connection, rows: list[dict], load: str, seen_at: datetime, platform_code: str
) -> dict:
    """A platform's first load on PostgreSQL: ``COPY`` straight into ``core_posting`` and
    ``core_posting_seen``, without staging. With nothing to merge with, ``merge_postings.sql`` would only
    insert every staged posting (closed if its valid_through has passed at ``seen_at``) and when it was
    seen (first and last at ``seen_at``); copying the same rows spares writing and reading them once
    more. ``stg_posting`` is cleared of the platform, as a load through it would replace them."""
    from sqlalchemy import delete

    from recruitment_month.schema import core_posting, core_posting_seen, stg_posting, stg_posting_seen

    if seen_at.tzinfo is None:
        raise ValueError(f"naive datetime {seen_at!r}: the warehouse stores timezone-aware timestamps")
    for table in (stg_posting, stg_posting_seen):
        conn.execute(delete(table).where(table.c.platform_code == platform_code))
    columns = [c.name for c in core_posting.columns]
    if columns[-2:] != ["closed_at", "load_id"]:
        raise RuntimeError(f"core_posting's columns are not in the expected order: {columns}")
    seen_columns = [c.name for c in core_posting_seen.columns]
    if seen_columns != ["platform_code", "posting_id", "first_seen_at", "last_seen_at", "item_hash"]:
        raise RuntimeError(f"core_posting_seen's columns are not the expected ones: {seen_columns}")
    values = itemgetter(*columns[:-2])
    valid_through = itemgetter("valid_through")
    _copy(
        conn,
        core_posting,
        (
            values(row)
            + ((v, load) if (v := valid_through(row)) is not None and v <= seen_at else (None, load))
            for row in rows
        ),
    )
    _copy(
        conn,
        core_posting_seen,
        ((platform_code, row["posting_id"], seen_at, seen_at, row["item_hash"]) for row in rows),
    )
    return {"staged": len(rows), "new": len(rows), "updated": 0}


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


def _load(
    engine: Engine,
    platform: Platform,
    items: Iterable[object],
    report: LoadReport,
    since: datetime,
    until: datetime,
) -> None:
    """The load itself, filling ``report`` (``load`` pauses the garbage collector around it)."""
    from recruitment_month import warehouse
    from recruitment_month.schema import audit_load

    load_key = report.load_id
    with engine.connect() as conn:
        known = known_items(conn, platform.code)
    prepared = prepare(items, platform, known)
    report.received = prepared.received
    report.identical = len(prepared.identical)
    report.problems_by_rule = dict(sorted(prepared.warned.items()))
    report.samples = {rule: [list(s) for s in kept] for rule, kept in sorted(prepared.samples.items())}
    valid, failed, report.warnings = validate(prepared.postings, platform, f"{SUITE}/{load_key}", engine)
    quarantined = prepared.quarantine + failed
    # In the primary key's order: PostgreSQL then adds to the key's index page after page instead of
    # all over it (a third less time for a platform's first load), and updates rows page after page.
    valid.sort(key=_posting_id)
    prepared.identical.sort()
    with engine.begin() as conn:
        _lock_platform(conn, platform.code)
        # A platform's first load only adds postings. Whether it is one is checked under the platform's
        # lock: on PostgreSQL the advisory lock, on SQLite the write lock that staging's first write takes.
        if (
            conn.dialect.name == "postgresql"
            and FIRST_LOAD_COPY
            and not prepared.identical
            and _holds_none(conn, platform.code)
        ):
            counts = _copy_first_load(conn, valid, load_key, until, platform.code)
        else:
            _stage(conn, valid, load_key, until, platform.code)
            _stage_seen(conn, prepared.identical, load_key, until, platform.code)
            counts = _merge(conn, load_key, until, platform.code, first=_holds_none(conn, platform.code))
        _quarantine(conn, load_key, platform.code, quarantined)
        report.staged = counts["staged"] + report.identical
        report.new = counts["new"]
        report.updated = counts["updated"]
        report.unchanged = report.staged - report.new - report.updated
        report.quarantined = len(quarantined)
        for entry in quarantined:
            report.quarantine_by_rule[entry["rule"]] = report.quarantine_by_rule.get(entry["rule"], 0) + 1
        warehouse.upsert(
            conn,
            audit_load,
            [
                {
                    "load_key": f"job_feeds/{load_key}",
                    "dag_id": "job_feeds",
                    "task_id": "load",
                    "subject": platform.code,
                    "interval_start": since,
                    "interval_end": until,
                    "counts": report.as_dict(),
                    "finished_at": datetime.now(UTC),
                }
            ],
            ["load_key"],
        )
        dominant = _dominant(report)
        if dominant is not None:  # told to the engineers with the load, so a rerun does not repeat it
            _alert_dominant(conn, platform, report, *dominant)


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
    engine: Engine,
    platform: Platform,
    items: Iterable[object],
    *,
    since: datetime,
    until: datetime,
    run_id: str = "",
) -> LoadReport:
    """Normalise, validate, stage and merge one platform's items (parsed, or their JSON texts) for the
    interval [since, until). Items identical to the ones the postings were last delivered as are not
    normalised again: they only move when the postings were seen."""

    load_key = load_id(platform.code, since, until)
    report = LoadReport(platform.code, load_key)
    with _gc_paused():
        _load(engine, platform, items, report, since, until)
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

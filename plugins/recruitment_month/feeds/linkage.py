"""Fuzzy links between the deterministic clusters of postings: the same job seen on several
platforms, found where the exact cluster key differs (docs/feeds.md).

A load gives each posting a deterministic ``cluster_id`` (``feeds.load.cluster_id``: the employer's credit
code or name key, the normalised title, the city). It misses a repost whose copies differ in one of those:
one platform does not publish the credit code, or not the city, or writes the place into the title
("Java开发工程师（深圳）"). This module links such clusters, precision first:

* **Blocking**: only postings of the same province and the same employer — the same credit code, or the
  same name key (``identity.employer_key``) — of *different platforms* and different clusters are compared.
* **Scoring**: weights in the manner of Fellegi–Sunter (log-odds of a match, set by hand and checked on
  the feed simulator's ground truth): the title (equal; equal but for a place or a generic word such as
  岗位; one containing the other, or a Levenshtein ratio ≥ 90 with ``rapidfuzz``), the employer (credit
  codes equal, or one missing and the names equal; two different codes never match), the city (two
  different cities never match; a missing one neither helps nor hurts), and the job's facts that reposts
  keep: salary range, education, employment type, openings (agreement adds, disagreement subtracts). A pair
  links at ``LINK_AT``.
* **Grouping**: the links, strongest first, join clusters into groups, but never two groups that share a
  platform (a platform's postings are never merged by fuzzy matching). A group's ``match_id`` is its
  smallest cluster id.

The result is ``core_posting_link`` (one row per posting; ``match_id`` NULL when the posting's cluster is
linked to none), which loads never write: the links survive reloads. ``link()`` recomputes the *component*
of the postings a run touched (new or changed postings, and those whose cluster changed or that have no
row yet): every posting sharing a block with them, and every posting of a group they were in, closed
transitively. The outcome on a component depends only on its postings, so an incremental run gives what
a full rebuild gives, and a rerun changes nothing. Reports count by ``COALESCE(match_id, cluster_id)``.

Pure functions (``title_level``, ``score``, ``match_groups``) import nothing from Airflow or the database.
"""

from __future__ import annotations

import logging
import re
import time
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)

LINK_AT = 10.0
"""The score at which two postings of different platforms are the same job."""
FULL_REBUILD_SHARE = 0.1
"""An incremental run touching more than this share of the postings rebuilds every link instead (one pass
is cheaper than following blocks key by key, and gives the same links)."""
AMBIGUITY_MARGIN = 2.0
"""A cluster whose best two candidates on one platform score within this margin is linked to neither."""

# Title agreement levels and their weights.
T_NONE, T_SIMILAR, T_CONTAINS, T_AFFIX, T_EXACT = range(5)
TITLE_WEIGHT = {T_SIMILAR: 2.5, T_CONTAINS: 2.5, T_AFFIX: 5.0, T_EXACT: 6.0}
SIMILAR_RATIO = 90.0
# What a platform adds to a title besides the place, once title_key has removed the recruiting decorations.
_GENERIC = r"(?:岗位|岗|职位|base|工作地点|工作地|地点|招聘)"
_GENERIC_START = re.compile(f"^{_GENERIC}+")
_GENERIC_END = re.compile(f"{_GENERIC}+$")

_CITY_SUFFIX = re.compile(r"(市|地区|自治州|盟|区|县)$")
_CHUNK = 400  # keys per IN list (SQLite allows 32,766 bind parameters; PostgreSQL 65,535)


class Rec(NamedTuple):
    """What linking compares of a posting."""

    platform_code: str
    posting_id: str
    cluster_id: str
    title_key: str
    employer_key: str
    credit_code: str | None
    province_code: str | None
    city_key: str
    education_level: str | None
    employment_type: str | None
    salary_min: int | None
    salary_max: int | None
    openings: int | None


def city_key(city: str | None) -> str:
    """The city as compared: NFKC, without 市/地区/自治州/… (as in ``load.cluster_id``)."""
    return _CITY_SUFFIX.sub("", unicodedata.normalize("NFKC", city or "").strip())


def title_level(a: str, b: str, places: Iterable[str] = ()) -> int:
    """How two title keys agree: ``T_EXACT``; ``T_AFFIX`` (equal without the places among ``places`` and
    generic words such as 岗位 at their starts and ends); ``T_CONTAINS`` (one starts or ends with the
    other); ``T_SIMILAR`` (Levenshtein ratio ≥ 90: a typo in a long title); else ``T_NONE``."""
    from rapidfuzz.distance import Indel

    if a == b:
        return T_EXACT
    if not a or not b:
        return T_NONE
    if _core(a, places) == _core(b, places):
        return T_AFFIX
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    if long.startswith(short) or long.endswith(short):
        return T_CONTAINS
    if Indel.normalized_similarity(a, b) * 100 >= SIMILAR_RATIO:
        return T_SIMILAR
    return T_NONE


def _core(title: str, places: Iterable[str]) -> str:
    """A title key without generic words and places at its ends ("java开发工程师深圳岗" → "java开发工程师")."""
    while True:
        before = title
        title = _GENERIC_END.sub("", _GENERIC_START.sub("", title))
        for place in places:
            if len(title) > len(place):
                title = title.removeprefix(place).removesuffix(place)
        if title == before:
            return title


def score(a: Rec, b: Rec, title: int | None = None) -> float | None:
    """The evidence that ``a`` and ``b`` are the same job (higher: surer); None when something rules it
    out: the same platform, different credit codes, different employers, different cities, unlike titles."""
    total = _employer_and_place_weight(a, b)
    if total is None:
        return None
    if title is None:
        title = title_level(a.title_key, b.title_key, {a.city_key, b.city_key} - {""})
    if title == T_NONE:
        return None
    total += TITLE_WEIGHT[title]
    total += _salary_weight(a, b)
    return total + _terms_weight(a, b)


def _employer_and_place_weight(a: Rec, b: Rec) -> float | None:
    """The same employer (by credit code, surer, or by name) in the same province and city, on two
    platforms; None when not."""
    if a.platform_code == b.platform_code or a.province_code != b.province_code:
        return None
    if a.credit_code and b.credit_code:
        if a.credit_code != b.credit_code:
            return None
        total = 3.0
    elif a.employer_key == b.employer_key:
        total = 1.0
    else:
        return None
    if a.city_key and b.city_key:
        if a.city_key != b.city_key:
            return None
        total += 1.5
    return total


def _terms_weight(a: Rec, b: Rec) -> float:
    """Education, employment type and openings: alike counts for, unlike strongly against."""
    total = 0.0
    if a.education_level and b.education_level and "other" not in (a.education_level, b.education_level):
        total += 1.0 if a.education_level == b.education_level else -4.0
    if a.employment_type and b.employment_type:
        total += 0.5 if a.employment_type == b.employment_type else -3.0
    if a.openings and b.openings:
        total += 1.0 if a.openings == b.openings else -3.0
    return total


def _salary_weight(a: Rec, b: Rec) -> float:
    """Reposts show the same salary, or one amount inside the other's range (a platform showing a single
    figure), give or take the rounding to a thousand; different jobs seldom do."""
    a_lo, a_hi = a.salary_min or a.salary_max, a.salary_max or a.salary_min
    b_lo, b_hi = b.salary_min or b.salary_max, b.salary_max or b.salary_min
    if not a_lo or not b_lo:
        return 0.0
    slack = 0.05 * max(a_hi, b_hi)
    if abs(a_lo - b_lo) <= slack and abs(a_hi - b_hi) <= slack:
        return 2.0
    if (a_lo - slack <= b_lo and b_hi <= a_hi + slack) or (b_lo - slack <= a_lo and a_hi <= b_hi + slack):
        return 1.0
    if max(a_lo, b_lo) <= min(a_hi, b_hi):
        return 0.0
    return -4.0


def _blocks(recs: Sequence[Rec]) -> Iterable[list[int]]:
    """Indices of postings that may be the same job: same province and credit code, or same province and
    employer name key. Postings without a province are left alone."""
    blocks: dict[tuple, list[int]] = defaultdict(list)
    for i, r in enumerate(recs):
        if not r.province_code:
            continue
        blocks[("n", r.province_code, r.employer_key)].append(i)
        if r.credit_code:
            blocks[("c", r.province_code, r.credit_code)].append(i)
    return (b for b in blocks.values() if len(b) > 1)


def candidate_links(recs: Sequence[Rec]) -> dict[tuple[str, str], float]:
    """(cluster, cluster) → the best score of a pair of their postings, for the pairs at ``LINK_AT`` that
    are not ambiguous: a cluster with two candidates on one platform that score within
    ``AMBIGUITY_MARGIN`` of each other keeps neither (the same employer has two such jobs)."""
    scorer = _Scorer(recs)
    for block in _blocks(recs):
        scorer.block(block)
    best = scorer.best
    ambiguous = _ambiguous(best)
    links: dict[tuple[str, str], float] = {}
    for (cluster, _, other), s in best.items():
        if cluster < other and (cluster, other) not in ambiguous and (other, cluster) not in ambiguous:
            links[(cluster, other)] = max(s, links.get((cluster, other), 0.0))
    return links


class _Scorer:
    """Scores the pairs of postings of a block; ``best``: (cluster, platform, cluster) → best score at
    ``LINK_AT``, for both directions of each pair."""

    def __init__(self, recs: Sequence[Rec]):
        self.recs = recs
        self.best: dict[tuple[str, str, str], float] = {}
        self.levels: dict[tuple[str, str, frozenset], int] = {}

    def block(self, block: list[int]) -> None:
        recs = self.recs
        by_title: dict[str, list[int]] = defaultdict(list)
        for i in block:
            by_title[recs[i].title_key].append(i)
        titles = sorted(by_title)
        pairs = [(t, t) for t in titles if len(by_title[t]) > 1] + list(combinations(titles, 2))
        for ta, tb in pairs:
            same = ta == tb
            for x, i in enumerate(by_title[ta]):
                for j in by_title[ta][x + 1 :] if same else by_title[tb]:
                    self.pair(recs[i], recs[j], (ta, tb))

    def pair(self, a: Rec, b: Rec, titles: tuple[str, str]) -> None:
        if a.cluster_id == b.cluster_id or a.platform_code == b.platform_code:
            return
        places = frozenset({a.city_key, b.city_key} - {""})
        key = (*titles, places)
        level = self.levels.get(key)
        if level is None:
            level = self.levels[key] = title_level(*titles, places)
        if level == T_NONE:
            return
        s = score(a, b, level)
        if s is None or s < LINK_AT:
            return
        for one, other in ((a, b), (b, a)):
            pair = (one.cluster_id, other.platform_code, other.cluster_id)
            if s > self.best.get(pair, 0.0):
                self.best[pair] = s


def _ambiguous(best: dict[tuple[str, str, str], float]) -> set[tuple[str, str]]:
    """(cluster, cluster) pairs left out: a cluster's candidates on one platform too close to tell."""
    # per (cluster, platform): the candidates' best scores, strongest first
    options: dict[tuple[str, str], list[tuple[float, str]]] = defaultdict(list)
    for (cluster, platform, other), s in best.items():
        options[(cluster, platform)].append((s, other))
    ambiguous: set[tuple[str, str]] = set()
    for (cluster, _), found in options.items():
        found.sort(reverse=True)
        for s, other in found[1:]:
            if found[0][0] - s < AMBIGUITY_MARGIN:
                ambiguous.add((cluster, other))
                ambiguous.add((cluster, found[0][1]))
    return ambiguous


def match_groups(recs: Sequence[Rec]) -> dict[str, tuple[str, float]]:
    """cluster → (match_id, score) for every cluster linked to another; the rest are left out.

    Links join groups strongest first (ties by cluster ids, so the outcome does not depend on the order of
    ``recs``); two groups that share a platform are never joined."""
    platforms: dict[str, set[str]] = defaultdict(set)
    for r in recs:
        platforms[r.cluster_id].add(r.platform_code)
    parent: dict[str, str] = {}

    def root(c: str) -> str:
        while parent.get(c, c) != c:
            parent[c] = parent.get(parent[c], parent[c])
            c = parent[c]
        return c

    strength: dict[str, float] = {}
    links = candidate_links(recs)
    for (a, b), s in sorted(links.items(), key=lambda item: (-item[1], item[0])):
        ra, rb = root(a), root(b)
        if ra == rb or platforms[ra] & platforms[rb]:
            continue
        keep, gone = (ra, rb) if ra < rb else (rb, ra)
        parent[gone] = keep
        platforms[keep] |= platforms.pop(gone)
        strength[a] = max(strength.get(a, 0.0), s)
        strength[b] = max(strength.get(b, 0.0), s)
    return {c: (root(c), strength[c]) for c in strength}


# --------------------------------------------------------------------------------------------------
# The warehouse
# --------------------------------------------------------------------------------------------------


@dataclass
class LinkReport:
    postings: int = 0  # postings in the recomputed components
    touched: int = 0  # of those, the postings the run touched
    linked: int = 0  # postings whose cluster is linked to another cluster
    groups: int = 0  # groups of linked clusters
    changed: int = 0  # postings whose match_id changed
    seconds: float = 0.0
    full: bool = False

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _rec(row) -> Rec:
    from recruitment_month.feeds.identity import employer_key

    return Rec(
        row.platform_code,
        row.posting_id,
        row.cluster_id,
        row.title_key or "",
        employer_key(row.employer_name or ""),
        row.employer_credit_code or None,
        row.province_code or None,
        city_key(row.city),
        row.education_level,
        row.employment_type,
        row.salary_min,
        row.salary_max,
        row.openings,
    )


def _chunks(values: Sequence, size: int = _CHUNK) -> Iterable[list]:
    values = sorted(values)
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _features(*extra):
    """A select of what ``_rec`` reads from ``core_posting``, with ``extra`` columns."""
    from sqlalchemy import select

    from recruitment_month.schema import core_posting as p

    names = (
        *Rec._fields[:4],
        "employer_name",
        "employer_credit_code",
        "province_code",
        "city",
        *Rec._fields[8:],
    )
    return select(*(p.c[n] for n in names), *extra)


@dataclass
class _Keys:
    """The blocks (province and employer name key, province and credit code) and groups to read."""

    names: set[tuple[str, str]] = field(default_factory=set)
    codes: set[tuple[str, str]] = field(default_factory=set)
    matches: set[str] = field(default_factory=set)

    def add(self, keys: tuple[str | None, str | None, str | None, str | None]) -> None:
        """(province, employer key, credit code, match id)."""
        province, key, code, match = keys
        if province and key is not None:
            self.names.add((province, key))
        if province and code:
            self.codes.add((province, code))
        if match:
            self.matches.add(match)


def _component(conn: Connection, touched: Iterable, full: bool) -> dict[tuple[str, str], Rec]:
    """The touched postings and every posting sharing a block or a group with them, transitively."""
    recs: dict[tuple[str, str], Rec] = {}
    keys = _Keys()
    for row in touched:
        r = _rec(row)
        recs[(r.platform_code, r.posting_id)] = r
        if not full:
            keys.add((r.province_code, r.employer_key, r.credit_code, None))
            keys.add((row.old_province_code, row.old_employer_key, row.old_credit_code, row.old_match_id))
    if not full:
        _expand(conn, recs, keys)
    return recs


def _expand(conn: Connection, recs: dict[tuple[str, str], Rec], keys: _Keys) -> None:
    """Adds to ``recs`` the postings of the blocks and groups in ``keys``, and theirs, till none is new."""
    from sqlalchemy import and_, tuple_

    from recruitment_month.schema import core_posting as p
    from recruitment_month.schema import core_posting_link as t

    base = _features(t.c.match_id).select_from(
        t.join(p, and_(p.c.platform_code == t.c.platform_code, p.c.posting_id == t.c.posting_id))
    )
    where = {
        "employer": lambda chunk: tuple_(t.c.province_code, t.c.employer_key).in_(chunk),
        "credit_code": lambda chunk: tuple_(t.c.province_code, t.c.employer_credit_code).in_(chunk),
        "match": lambda chunk: t.c.match_id.in_(chunk),
    }
    done: dict[str, set] = {kind: set() for kind in where}
    while True:
        todo = {
            "employer": keys.names - done["employer"],
            "credit_code": keys.codes - done["credit_code"],
            "match": keys.matches - done["match"],
        }
        if not any(todo.values()):
            return
        for kind, wanted in todo.items():
            done[kind] |= wanted
            for chunk in _chunks(wanted):
                _read_rows(conn.execute(base.where(where[kind](chunk))), recs, keys)


def _read_rows(rows: Iterable, recs: dict[tuple[str, str], Rec], keys: _Keys) -> None:
    for row in rows:
        key = (row.platform_code, row.posting_id)
        if key not in recs:
            recs[key] = r = _rec(row)
            if r.province_code:
                keys.add((r.province_code, r.employer_key, r.credit_code, None))
        if row.match_id:
            keys.matches.add(row.match_id)


def _write(conn: Connection, recs: dict[tuple[str, str], Rec], groups: dict, full: bool) -> None:
    from sqlalchemy import delete, tuple_

    from recruitment_month.schema import core_posting_link as t

    if full:
        conn.execute(delete(t))
    else:
        for chunk in _chunks(recs):
            conn.execute(delete(t).where(tuple_(t.c.platform_code, t.c.posting_id).in_(chunk)))
    if not recs:
        return
    rows = (
        (
            r.platform_code,
            r.posting_id,
            r.cluster_id,
            r.province_code,
            r.employer_key,
            r.credit_code,
            *groups.get(r.cluster_id, (None, None)),
        )
        for r in recs.values()
    )
    columns = ["platform_code", "posting_id", "cluster_id", "province_code", "employer_key"]
    columns += ["employer_credit_code", "match_id", "score"]
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        with (
            raw.cursor() as cur,
            cur.copy(f"COPY core_posting_link ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
    else:
        conn.execute(t.insert(), [dict(zip(columns, row, strict=True)) for row in rows])


def _every_posting(conn: Connection) -> Iterable:
    """Every posting's features, streamed (a server-side cursor on PostgreSQL): a full rebuild holds only
    the compact records, not the rows as well."""
    return conn.execute(_features().execution_options(yield_per=20_000))


def link(engine: Engine, load_ids: Sequence[str] | None = None) -> LinkReport:
    """Recompute the fuzzy links of the postings the loads ``load_ids`` touched (new or changed), of the
    postings whose cluster changed or that have no link row yet, and of everything sharing a block or a
    group with them; ``load_ids=None``: rebuild every link. One transaction; a rerun changes nothing."""
    from sqlalchemy import String, bindparam, func, select, text

    from recruitment_month import warehouse
    from recruitment_month.schema import core_posting

    started = time.monotonic()
    full = load_ids is None
    report = LinkReport(full=full)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # one link run at a time
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": "job_feeds/link"})
        if full:
            touched = _every_posting(conn)
        else:
            sql = text(warehouse.sql("link_touched")).bindparams(
                bindparam("load_ids", expanding=True, type_=String)
            )
            touched = conn.execute(sql, {"load_ids": list(load_ids)}).all()
            total = conn.execute(select(func.count()).select_from(core_posting)).scalar_one()
            if len(touched) > FULL_REBUILD_SHARE * total:  # cheaper in one pass; the same outcome
                full = report.full = True
                touched = _every_posting(conn)
        recs = _component(conn, touched, full)
        report.touched = len(recs) if full else len(touched)
        report.postings = len(recs)
        groups = match_groups(list(recs.values()))
        old = _old_matches(conn, None if full else list(recs))
        _write(conn, recs, groups, full)
    report.linked = sum(1 for r in recs.values() if r.cluster_id in groups)
    report.groups = len({m for m, _ in groups.values()})
    report.changed = sum(1 for k, r in recs.items() if groups.get(r.cluster_id, (None,))[0] != old.get(k))
    report.seconds = round(time.monotonic() - started, 3)
    log.info(
        "links: %s, %d postings touched, %d recomputed, %d linked in %d groups, %d changed, %.1f s",
        "full rebuild" if full else "incremental",
        report.touched,
        report.postings,
        report.linked,
        report.groups,
        report.changed,
        report.seconds,
    )
    return report


def _old_matches(conn: Connection, keys: list[tuple[str, str]] | None) -> dict[tuple[str, str], str | None]:
    """(platform, posting id) → match_id as stored, for ``keys`` (None: every linked posting)."""
    from sqlalchemy import select, tuple_

    from recruitment_month.schema import core_posting_link as t

    query = select(t.c.platform_code, t.c.posting_id, t.c.match_id)
    if keys is None:
        rows = conn.execute(query.where(t.c.match_id.is_not(None)))
        return {(r.platform_code, r.posting_id): r.match_id for r in rows}
    out: dict[tuple[str, str], str | None] = {}
    for chunk in _chunks(keys):
        rows = conn.execute(query.where(tuple_(t.c.platform_code, t.c.posting_id).in_(chunk)))
        out.update({(r.platform_code, r.posting_id): r.match_id for r in rows})
    return out

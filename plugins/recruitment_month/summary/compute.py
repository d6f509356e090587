"""The national weekly summary from the warehouse, as of a moment (docs/summary-and-reminders.md).

``compute(conn, week, as_of)`` reads only what had *landed* by ``as_of``: the preliminary summary is
computed as of the deadline (frozen there, whenever it runs), a revised one as of the moment a late
report was accepted. The same inputs always give the same summary, so a rerun finds the same
fingerprint and sends nothing.

Definitions:

* a unit's status (on time, late, rejected, missing) is the rule of ``recruitment_month.status``: its
  first accepted report decides the week's timeliness, and a correction never changes it;
* the figures of a unit are those of its latest accepted revision landed by ``as_of``;
* the national cumulative carries forward each unit's last reported cumulative when it has not
  reported this week, so a missing report does not shrink the campaign's total;
* the reporting rate and on-time rate are DHIS2's: reports received (on time) / reports expected;
* job-feed figures are the postings whose ``date_posted`` falls in the reporting week (Saturday to
  Friday, Beijing) as the feeds had delivered them by the deadline, with the share of them seen on more
  than one platform (later pulls do not revise a summary: only reports do);
* the cross-check compares each province's reported positions with the openings the feeds show for
  it, against the national ratio: a province more than five times off the median ratio is flagged.
"""

from __future__ import annotations

import hashlib
import json
import statistics
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from recruitment_month.reports.fields import BY_KEY, COUNT_KEYS, cumulative_key
from recruitment_month.status import EXEMPT, MISSING, REJECTED, decide, exempted, first_accepted, rejections
from recruitment_month.summary.model import (
    CrossCheck,
    FeedFigures,
    QualityWarning,
    UnitStatus,
    WeeklySummary,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

CROSSCHECK_FACTOR = 5.0
CROSSCHECK_MIN_POSITIONS = 1000
# The cross-check's rule, as the email states it under its table.
CROSSCHECK_RULE = (
    "倍数＝单位报送的本周岗位数÷招聘平台本周在该地发布的招聘人数；平台只发布部分岗位，倍数大于1属正常，"
    f"报送岗位不少于{CROSSCHECK_MIN_POSITIONS:,}个且倍数高于全国中位数的{CROSSCHECK_FACTOR:.0f}倍"
    f"或低于其{CROSSCHECK_FACTOR:.0f}分之一时提示核实。"
)


def _reports_as_of(conn: Connection, first: date, last: date, as_of: datetime) -> list[dict]:
    """The latest accepted revision, among those landed by ``as_of``, of every report of the weeks."""
    from sqlalchemy import func, select

    from recruitment_month.schema import core_report as r

    newer = r.alias("newer")
    latest = (
        select(func.max(newer.c.revision))
        .where(
            newer.c.unit_code == r.c.unit_code,
            newer.c.week_ending == r.c.week_ending,
            newer.c.landed_at <= as_of,
        )
        .scalar_subquery()
    )
    query = select(r).where(
        r.c.week_ending.between(first, last), r.c.landed_at <= as_of, r.c.revision == latest
    )
    return [dict(row) for row in conn.execute(query).mappings()]


def _warnings(conn: Connection, reports: list[dict], names: dict[str, str]) -> list[QualityWarning]:
    from sqlalchemy import select

    from recruitment_month.schema import audit_report_problem as p

    by_file = {r["file_id"]: r["unit_code"] for r in reports}
    if not by_file:
        return []
    rows = conn.execute(
        select(p).where(p.c.file_id.in_(list(by_file)), p.c.severity == "warn").order_by(p.c.file_id, p.c.seq)
    ).mappings()
    warnings = [
        QualityWarning(
            unit_code=by_file[row["file_id"]],
            unit_name=names[by_file[row["file_id"]]],
            rule=row["rule"],
            field=row["field"],
            value=row["value"],
            message=row["message"],
        )
        for row in rows
    ]
    order = list(names)
    return sorted(warnings, key=lambda w: (order.index(w.unit_code), w.rule, w.field or ""))


def _totals(reports: list[dict]) -> dict[str, int]:
    return {k: sum(int(r[k]) for r in reports) for k in COUNT_KEYS}


def _feeds(conn: Connection, week: date, deadline: datetime, names: dict[str, str]) -> FeedFigures | None:
    """The feeds' figures of the week as delivered by its deadline (later pulls do not revise them)."""
    from sqlalchemy import bindparam, text

    from recruitment_month import config, warehouse
    from recruitment_month.schema import UTCDateTime

    query = text(warehouse.sql("week_postings")).bindparams(bindparam("as_of", type_=UTCDateTime))
    params = {"first_day": week - timedelta(days=6), "last_day": week, "as_of": deadline}
    rows = conn.execute(query, params).mappings().all()
    if not rows:
        return None
    platforms = {p.code: p.name for p in config.platforms()}
    key_industries = set(config.campaign().key_industries)

    def group(key):
        out: dict = {}
        for r in rows:
            entry = out.setdefault(r[key], {"new_postings": 0, "openings": 0, "duplicates": 0})
            entry["new_postings"] += int(r["postings"])
            entry["openings"] += int(r["openings"])
            entry["duplicates"] += int(r["duplicates"])
        return out

    by_platform = [
        {
            "platform_code": code,
            "platform_name": platforms.get(code, code),
            "new_postings": v["new_postings"],
            "openings": v["openings"],
            "duplicate_rate": v["duplicates"] / v["new_postings"] if v["new_postings"] else 0.0,
        }
        for code, v in sorted(group("platform_code").items(), key=lambda kv: -kv[1]["new_postings"])
    ]
    provinces = group("province_code")
    by_province = [
        {
            "unit_code": code,
            "unit_name": names[code],
            "new_postings": v["new_postings"],
            "openings": v["openings"],
        }
        for code, v in sorted(provinces.items(), key=lambda kv: (-kv[1]["openings"], kv[0] or ""))
        if code in names
    ]
    by_industry = [
        {
            "industry": industry or "其他",
            "new_postings": v["new_postings"],
            "openings": v["openings"],
            "key_industry": industry in key_industries,
        }
        for industry, v in sorted(group("industry_category").items(), key=lambda kv: -kv[1]["new_postings"])
    ]
    total = sum(int(r["postings"]) for r in rows)
    return FeedFigures(
        new_postings=total,
        openings=sum(int(r["openings"]) for r in rows),
        duplicate_rate=sum(int(r["duplicates"]) for r in rows) / total if total else 0.0,
        by_platform=by_platform,
        by_province=by_province,
        by_industry=by_industry,
    )


def _crosscheck(units: list[UnitStatus], feeds: FeedFigures | None) -> list[CrossCheck]:
    if feeds is None:
        return []
    openings = {p["unit_code"]: p["openings"] for p in feeds.by_province}
    rows = []
    for unit in units:
        if not unit.week:
            continue
        positions = int(unit.week.get("positions", 0))
        observed = int(openings.get(unit.code, 0))
        rows.append((unit, positions, observed, positions / observed if observed else None))
    ratios = [r for _, _, _, r in rows if r]
    median = statistics.median(ratios) if ratios else None
    checks = []
    for unit, positions, observed, ratio in rows:
        flag = None
        if median and ratio and positions >= CROSSCHECK_MIN_POSITIONS:
            if ratio > median * CROSSCHECK_FACTOR:
                flag = f"报送岗位数是平台岗位数的{ratio:,.0f}倍，远高于全国一般水平（约{median:,.0f}倍），请核实是否多报。"
            elif ratio < median / CROSSCHECK_FACTOR:
                flag = f"报送岗位数仅为平台岗位数的{ratio:,.1f}倍，远低于全国一般水平（约{median:,.0f}倍），请核实是否漏报。"
        elif observed == 0 and positions >= CROSSCHECK_MIN_POSITIONS and median:
            flag = "招聘平台本周未见该省岗位，无法核对。"
        checks.append(CrossCheck(unit.code, unit.name, positions, observed, ratio, flag))
    return checks


def compute(conn: Connection, week: date, as_of: datetime, *, version: int = 1) -> WeeklySummary:
    """The summary of ``week`` from what had landed by ``as_of``."""
    from recruitment_month import config, quality

    campaign = config.campaign()
    units_cfg = config.units().units
    names = {u.code: u.name for u in units_cfg}
    deadline = campaign.deadline(week)
    weeks = [w for w in campaign.weeks if w <= week]
    reports = _reports_as_of(conn, weeks[0], week, as_of)
    this_week = {r["unit_code"]: r for r in reports if r["week_ending"] == week}
    first = first_accepted(conn, week, as_of)
    rejected = rejections(conn, campaign, week, as_of)
    exempt = exempted(conn, campaign, week)

    units = []
    for unit in units_cfg:
        report = this_week.get(unit.code)
        if report is not None:
            status = decide(first[unit.code], deadline)
            units.append(
                UnitStatus(
                    code=unit.code,
                    name=unit.name,
                    status=status,
                    landed_at=report["landed_at"],
                    revision=report["revision"],
                    warnings=int(report["warning_count"]),
                    week={k: int(report[k]) for k in COUNT_KEYS},
                    cumulative={k: int(report[cumulative_key(k)]) for k in COUNT_KEYS},
                    highlights=report["highlights"],
                    problems=report["problems"],
                )
            )
        else:
            status = decide(None, deadline, any_rejected=unit.code in rejected)
            if status in (MISSING, REJECTED) and unit.code in exempt:
                status = EXEMPT
            units.append(
                UnitStatus(
                    code=unit.code,
                    name=unit.name,
                    status=status,
                    landed_at=None,
                    revision=None,
                    note=rejected.get(unit.code),
                )
            )

    trend = [(w, _totals([r for r in reports if r["week_ending"] == w])) for w in weeks]
    national_cumulative = dict.fromkeys(COUNT_KEYS, 0)
    for unit in units_cfg:
        latest = max(
            (r for r in reports if r["unit_code"] == unit.code), key=lambda r: r["week_ending"], default=None
        )
        if latest is not None:
            for k in COUNT_KEYS:
                national_cumulative[k] += int(latest[cumulative_key(k)])
    feeds = _feeds(conn, week, deadline, names)
    return WeeklySummary(
        campaign_name=campaign.name,
        week_ending=week,
        week_number=campaign.week_number(week),
        weeks_total=len(campaign.weeks),
        version=version,
        generated_at=as_of,
        deadline=deadline,
        units=units,
        national_week=trend[-1][1],
        national_cumulative=national_cumulative,
        previous_week=trend[-2][1] if len(trend) > 1 else None,
        trend=trend,
        warnings=_warnings(conn, list(this_week.values()), names),
        feeds=feeds,
        crosscheck=_crosscheck(units, feeds),
        data_docs_url=quality.data_docs_url(),
    )


def _jsonable(value):
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def payload(summary: WeeklySummary) -> dict:
    """The summary as JSON-ready data (what the mart keeps of every version)."""
    return _jsonable(asdict(summary))


def fingerprint(summary: WeeklySummary) -> str:
    """What makes a new version: the week's own reports — each unit's status and figures,
    the national week, the warnings and the cross-check. Not the trend, last week or the carried-forward
    cumulative (a late report of an earlier week revises that week, not every week after it), nor the
    feeds (frozen at the deadline), the version, its time or its change list."""
    data = payload(summary)
    own = {k: data[k] for k in ("week_ending", "national_week", "warnings", "crosscheck")}
    own["units"] = [{k: u[k] for k in ("code", "status", "week", "cumulative")} for u in data["units"]]
    return hashlib.sha256(json.dumps(own, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def changes(before: dict, after: WeeklySummary) -> list[str]:
    """What changed against the last version, in Chinese sentences for the ministry."""
    from recruitment_month.summary.model import STATUS_LABELS

    out = []
    old_status = {u["code"]: u["status"] for u in before["units"]}
    for unit in after.units:
        was = old_status.get(unit.code)
        if was != unit.status:
            out.append(f"{unit.name}：{STATUS_LABELS.get(was, was)} → {STATUS_LABELS[unit.status]}")
    old_units = {u["code"]: u for u in before["units"]}
    for unit in after.units:
        old = old_units.get(unit.code)
        if old and old["status"] in ("on_time", "late") and unit.week and old["week"] != unit.week:
            out.append(f"{unit.name}：报送了第{unit.revision}版，数据有修改")
    for key in COUNT_KEYS:
        was, now = int(before["national_week"].get(key, 0)), after.national_week[key]
        if was != now:
            out.append(f"全国{BY_KEY[key].header}本周：{was:,} → {now:,}")
    return out


def from_payload(data: dict) -> WeeklySummary:
    """The inverse of :func:`payload`: a stored version back as the summary object (its moments in
    the campaign's zone, as the email shows them)."""
    from recruitment_month import config

    tz = config.campaign().tz

    def moment(text):
        return datetime.fromisoformat(text).astimezone(tz) if text else None

    def day(text):
        return date.fromisoformat(text)

    feeds = data.get("feeds")
    return WeeklySummary(
        campaign_name=data["campaign_name"],
        week_ending=day(data["week_ending"]),
        week_number=data["week_number"],
        weeks_total=data["weeks_total"],
        version=data["version"],
        generated_at=moment(data["generated_at"]),
        deadline=moment(data["deadline"]),
        units=[UnitStatus(**{**u, "landed_at": moment(u["landed_at"])}) for u in data["units"]],
        national_week=data["national_week"],
        national_cumulative=data["national_cumulative"],
        previous_week=data["previous_week"],
        trend=[(day(w), totals) for w, totals in data["trend"]],
        warnings=[QualityWarning(**w) for w in data["warnings"]],
        feeds=FeedFigures(**feeds) if feeds else None,
        crosscheck=[CrossCheck(**c) for c in data["crosscheck"]],
        changes=list(data.get("changes") or []),
        data_docs_url=data.get("data_docs_url"),
    )

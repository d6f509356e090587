"""The campaign's final report (总结), sent once to ministry staff after the last week's follow-ups.

At ``campaign.final_report`` (by default the Monday after the last reporting Friday, 12:00 Beijing,
after the last follow-up reminder) the ``report_reminders`` DAG computes every week of the campaign as
of that moment — with :func:`recruitment_month.summary.compute.compute`, so a week's figures are those
of its units' latest accepted revisions and a report accepted after its deadline counts as late — and
mails the ministry:

* the weeks' trend: each week's national totals and who reported, with the campaign's totals, which
  are the sum of the weeks;
* each unit's totals over the campaign (the sum of its weeks) and its record: on time, late, missing
  or rejected per week, corrections (accepted revisions after the first) and data-quality warnings;
* the partner platforms' postings over the campaign (the sum of the weeks' figures as delivered by
  each deadline);
* a workbook holding all of it, with every report's 典型做法与成效 and 存在问题与建议.

The mail is keyed ``final_report/<campaign>`` in the outbox: written once in the transaction that
decides it, sent by ``deliver``; a rerun finds the key and computes and sends nothing.

Pure module: no Airflow import; Jinja2 and openpyxl are imported inside the functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from recruitment_month.reports.fields import BY_KEY, COUNT_KEYS
from recruitment_month.summary.content import (
    DATA_DOCS_LABEL,
    SHORT_HEADERS,
    UNIT_EMAIL_KEYS,
    Column,
    Row,
    Table,
    cn_date,
    cn_moment,
    fmt_int,
    fmt_pct,
)
from recruitment_month.summary.model import STATUS_LABELS, STATUSES

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    from recruitment_month.config import Campaign
    from recruitment_month.notifications import Mail
    from recruitment_month.summary.model import WeeklySummary

OWNER = "report_reminders"  # the DAG whose runs send the final report
KIND = "final_report"
SHORT_STATUS = {"on_time": "按时", "late": "逾期", "missing": "未报", "rejected": "未通过", "exempt": "免报"}
EMAIL_TREND_KEYS = ("positions", "employers", "graduates")


@dataclass(frozen=True)
class CampaignReport:
    """Every week of the campaign as of one moment."""

    campaign_name: str
    generated_at: datetime  # tz-aware, the campaign's zone
    weeks: list[WeeklySummary]

    @property
    def totals(self) -> dict[str, int]:
        """The campaign's national totals: the sum of the weeks' national totals."""
        return {k: sum(int(w.national_week.get(k, 0)) for w in self.weeks) for k in COUNT_KEYS}

    def status_count(self, status: str) -> int:
        """Unit-weeks in ``status`` over the campaign."""
        return sum(1 for w in self.weeks for u in w.units if u.status == status)

    @property
    def unit_weeks(self) -> int:
        return sum(w.expected for w in self.weeks)


@dataclass(frozen=True)
class FinalContent:
    report: CampaignReport
    subject: str
    period: str
    lead: str
    tables: dict[str, Table]
    data_docs_url: str | None


def message_key(campaign: Campaign) -> str:
    return f"{KIND}/{campaign.code}"


def attachment_name(campaign: Campaign) -> str:
    return f"校园招聘月总结_{campaign.code}.xlsx"


def compute_report(conn: Connection, as_of: datetime) -> CampaignReport:
    """Every campaign week as of ``as_of``."""
    from recruitment_month import config
    from recruitment_month.summary import compute

    campaign = config.campaign()
    weeks = [compute.compute(conn, w, as_of) for w in campaign.weeks if campaign.deadline(w) <= as_of]
    return CampaignReport(campaign.name, as_of.astimezone(campaign.tz), weeks)


# ------------------------------------------------------------------------------------------- content


def _week_columns(report: CampaignReport, kind: str = "text") -> list[Column]:
    return [Column(f"w{w.week_number}", f"第{w.week_number}周", kind) for w in report.weeks]


def _trend_table(report: CampaignReport) -> Table:
    columns = [
        Column("label", "周次"),
        Column("week_ending", "统计截止日期", email=False),
        Column("reported", "已报单位", "int", short="已报"),
        Column("on_time", "按时报送", "int", email=False),
        Column("late", "逾期报送", "int", email=False),
        Column("missing", "未报送", "int", email=False),
        Column("rejected", "未通过校验", "int", email=False),
        Column("exempt", "免报", "int", email=False),
        Column("reporting_rate", "报送率", "pct", email=False),
    ]
    columns += [
        Column(k, BY_KEY[k].header, "int", short=SHORT_HEADERS.get(k), email=k in EMAIL_TREND_KEYS)
        for k in COUNT_KEYS
    ]
    rows = []
    for w in report.weeks:
        values: dict[str, Any] = {"label": f"第{w.week_number}周", "week_ending": w.week_ending}
        values.update({s: getattr(w, s) for s in ("reported", *STATUSES)})
        values["reporting_rate"] = w.reporting_rate
        values.update({k: int(w.national_week.get(k, 0)) for k in COUNT_KEYS})
        rows.append(Row(values))
    total: dict[str, Any] = {"label": "合计", "week_ending": None}
    total.update({s: report.status_count(s) for s in STATUSES})
    total["reported"] = total["on_time"] + total["late"]
    total.update(report.totals)
    return Table(
        key="trend",
        sheet="逐周趋势",
        title="逐周全国合计",
        columns=columns,
        rows=rows,
        total=Row(total, "total"),
        note="合计为各周全国合计之和；各周为已报送单位最新有效版本之和。报送单位数合计为“单位·周”数。",
    )


def _unit_rows(report: CampaignReport) -> list[Row]:
    rows = []
    for unit in report.weeks[0].units if report.weeks else []:
        mine = [next(u for u in w.units if u.code == unit.code) for w in report.weeks]
        values: dict[str, Any] = {"code": unit.code, "name": unit.name}
        values.update({k: sum(int(u.week.get(k, 0)) for u in mine) for k in COUNT_KEYS})
        values.update({s: sum(1 for u in mine if u.status == s) for s in STATUSES})
        values.update(
            {f"w{w.week_number}": SHORT_STATUS[u.status] for w, u in zip(report.weeks, mine, strict=True)}
        )
        values["corrections"] = sum(max(0, (u.revision or 1) - 1) for u in mine)
        values["warnings"] = sum(u.warnings for u in mine)
        bad = values["missing"] + values["rejected"]
        rows.append(Row(values, "missing" if bad else ("late" if values["late"] else None)))
    return rows


def _units_table(report: CampaignReport) -> Table:
    columns = [Column("code", "单位代码", email=False), Column("name", "单位")]
    columns += [
        Column(k, f"{BY_KEY[k].header}合计", "int", short=SHORT_HEADERS.get(k), email=k in UNIT_EMAIL_KEYS)
        for k in COUNT_KEYS
    ]
    columns += [
        Column("on_time", "按时报送(周)", "int", short="按时"),
        Column("late", "逾期报送(周)", "int", short="逾期"),
        Column("missing", "未报送(周)", "int", short="未报"),
        Column("rejected", "未通过校验(周)", "int", short="未通过"),
        Column("exempt", "免报(周)", "int", email=False),
        Column("corrections", "更正(次)", "int", short="更正"),
        Column("warnings", "数据提示(条)", "int", short="提示"),
    ]
    total: dict[str, Any] = {"code": "", "name": "全国合计"}
    total.update(report.totals)
    total.update({s: report.status_count(s) for s in STATUSES})
    rows = _unit_rows(report)
    total["corrections"] = sum(r["corrections"] for r in rows)
    total["warnings"] = sum(r["warnings"] for r in rows)
    return Table(
        key="units",
        sheet="各单位合计",
        title="各单位活动期间合计与报送情况",
        columns=columns,
        rows=rows,
        total=Row(total, "total"),
        note="各单位合计为其各周有效版本的本周数之和；更正为首次有效报送之后再次报送并通过校验的次数。",
    )


def _record_table(report: CampaignReport, rows: list[Row]) -> Table:
    columns = [Column("code", "单位代码", email=False), Column("name", "单位"), *_week_columns(report)]
    return Table(
        key="record",
        sheet="报送记录",
        title="各单位逐周报送记录",
        columns=columns,
        rows=rows,
        note="按时：截止前报送并通过校验；逾期：截止后报送；未报：未收到；未通过：收到的文件均未通过校验。",
    )


def _platform_table(report: CampaignReport) -> Table:
    by_code: dict[str, dict[str, Any]] = {}
    for w in report.weeks:
        for p in w.feeds.by_platform if w.feeds else []:
            entry = by_code.setdefault(
                p["platform_code"], {"code": p["platform_code"], "name": p["platform_name"], "openings": 0}
            )
            entry[f"w{w.week_number}"] = int(p["new_postings"])
            entry["openings"] += int(p["openings"])
    for entry in by_code.values():
        entry["new_postings"] = sum(int(entry.get(f"w{w.week_number}", 0)) for w in report.weeks)
    rows = [Row(e) for e in sorted(by_code.values(), key=lambda e: (-e["new_postings"], e["code"]))]
    total: dict[str, Any] = {
        "code": "",
        "name": "全国（各周跨平台去重之和）",
        "openings": 0,
        "new_postings": 0,
    }
    for w in report.weeks:
        total[f"w{w.week_number}"] = w.feeds.new_postings if w.feeds else None
        total["new_postings"] += w.feeds.new_postings if w.feeds else 0
        total["openings"] += w.feeds.openings if w.feeds else 0
    return Table(
        key="platforms",
        sheet="招聘平台",
        title="合作招聘平台活动期间新发布岗位",
        columns=[
            Column("code", "平台代码", email=False),
            Column("name", "平台"),
            *[Column(c.key, c.label, "int", email=False) for c in _week_columns(report)],
            Column("new_postings", "新发布岗位信息(条)", "int"),
            Column("openings", "招聘人数(人)", "int"),
        ],
        rows=rows,
        total=Row(total, "total"),
        note="同一岗位在多个平台发布只计一次，因此全国合计小于各平台之和。",
        empty="活动期间没有招聘平台数据。",
    )


def _texts_table(report: CampaignReport) -> Table:
    from recruitment_month.summary.content import texts_table

    return texts_table(report.weeks, empty="活动期间没有已报送单位的文字材料。")


def _lead(report: CampaignReport) -> str:
    totals = report.totals
    received = report.status_count("on_time") + report.status_count("late")
    rate = received / report.unit_weeks if report.unit_weeks else None
    return (
        f"{report.campaign_name}{len(report.weeks)}周报送已全部截止。各单位应报{report.unit_weeks}份周报，"
        f"已报{received}份（按时{report.status_count('on_time')}份、逾期{report.status_count('late')}份），"
        f"报送率{fmt_pct(rate)}。活动期间各地共提供岗位{fmt_int(totals['positions'])}个，"
        f"参会用人单位{fmt_int(totals['employers'])}家，参与毕业生{fmt_int(totals['graduates'])}人次。"
    )


def build(report: CampaignReport, *, data_docs_url: str | None = None) -> FinalContent:
    """Everything the final report's email and workbook say."""
    units = _units_table(report)
    tables = [
        _trend_table(report),
        units,
        _record_table(report, units.rows),
        _platform_table(report),
        _texts_table(report),
    ]
    first, last = (
        (report.weeks[0].week_ending, report.weeks[-1].week_ending) if report.weeks else (None, None)
    )
    period = f"{cn_date(first)}—{cn_date(last)}，共{len(report.weeks)}周" if first and last else "活动未开始"
    return FinalContent(
        report=report,
        subject=f"【校园招聘月】{report.campaign_name}总结：共提供岗位{fmt_int(report.totals['positions'])}个",
        period=period,
        lead=_lead(report),
        tables={t.key: t for t in tables},
        data_docs_url=data_docs_url or (report.weeks[-1].data_docs_url if report.weeks else None),
    )


# ------------------------------------------------------------------------------------------ workbook


def _overview(content: FinalContent) -> list[tuple[str, Any, str | None]]:
    r = content.report
    items: list[tuple[str, Any, str | None]] = [
        ("活动", r.campaign_name, None),
        ("报表", "活动总结", None),
        ("统计期间", content.period, None),
        ("生成时间（北京时间）", r.generated_at.replace(tzinfo=None), "time"),
        ("应报周报（份）", r.unit_weeks, "int"),
    ]
    items += [(f"{label}（份）", r.status_count(s), "int") for s, label in STATUS_LABELS.items()]
    items += [(f"{BY_KEY[k].header}合计", v, "int") for k, v in r.totals.items()]
    items.append(("概述", content.lead, None))
    if content.data_docs_url:
        items.append((DATA_DOCS_LABEL, content.data_docs_url, None))
    return items


def workbook_bytes(content: FinalContent) -> bytes:
    """The final report's ``.xlsx``: an overview, then every table as its own sheet."""
    from openpyxl import Workbook

    from recruitment_month.reports.template import workbook_bytes as deterministic_bytes
    from recruitment_month.summary.workbook import OVERVIEW, write_items, write_table

    workbook = Workbook()
    overview = workbook.active
    overview.title = OVERVIEW
    write_items(overview, _overview(content), content.data_docs_url)
    for table in content.tables.values():
        write_table(workbook.create_sheet(table.sheet), table)
    workbook.properties.title = content.subject
    workbook.properties.creator = "校园招聘月数据平台"
    return deterministic_bytes(workbook)


# ------------------------------------------------------------------------------------------- the mail


def render(report: CampaignReport, campaign: Campaign) -> Mail:
    """The final report's mail, keyed ``final_report/<campaign>``."""
    from recruitment_month.notifications import Attachment, Mail
    from recruitment_month.summary.render import ACCENT, XLSX_SUBTYPE, environment

    content = build(report, data_docs_url=campaign.data_docs_url)
    context = {
        "c": content,
        "subject": content.subject,
        "heading": "校园招聘月活动总结",
        "accent": ACCENT,
        "ministry": campaign.ministry,
        "data_team": campaign.data_team,
        "data_docs_label": DATA_DOCS_LABEL,
        "campaign_name": campaign.name,
        "generated": cn_moment(report.generated_at),
        "attachment_name": attachment_name(campaign),
    }
    env = environment()
    return Mail(
        key=message_key(campaign),
        kind=KIND,
        subject_ref=campaign.code,
        recipients=list(campaign.recipients.summary),
        subject=content.subject,
        text=env.get_template("final_report.txt.j2").render(**context),
        html=env.get_template("final_report.html.j2").render(**context),
        attachments=[
            Attachment(
                filename=attachment_name(campaign), content=workbook_bytes(content), subtype=XLSX_SUBTYPE
            )
        ],
    )


def _already_queued(engine: Engine, key: str) -> bool:
    from sqlalchemy import select

    from recruitment_month.schema import audit_notification as t

    with engine.connect() as conn:
        return conn.execute(select(t.c.message_key).where(t.c.message_key == key)).first() is not None


def run(engine: Engine, moment: datetime) -> dict:
    """Write the final report to the outbox when it is due at ``moment`` and not written yet, then
    deliver what this DAG's outbox holds. Returns {due, queued, delivered}."""
    from recruitment_month import config, notifications

    campaign = config.campaign()
    if moment < campaign.final_report_at:
        return {"due": False, "queued": 0}
    queued = 0
    if not _already_queued(engine, message_key(campaign)):
        with engine.begin() as conn:
            queued = notifications.enqueue(
                conn, [render(compute_report(conn, moment), campaign)], owner=OWNER
            )
    return {
        "due": True,
        "queued": queued,
        "delivered": notifications.deliver(engine, [OWNER, notifications.ALERTS]),
    }

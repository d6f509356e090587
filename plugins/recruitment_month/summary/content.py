"""What the weekly summary says, computed once from a :class:`WeeklySummary`: the subject, the
headline figures, the units to act on, and every table with its columns, rows and raw values.

The HTML body, the plain-text part and the ``.xlsx`` attachment are all drawn from this one
:class:`Content`, so they cannot disagree: the email formats the raw values with :func:`cell`, the
workbook writes them as numbers with matching number formats.

Pure module: no Airflow import, no heavy import.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from recruitment_month.reports.fields import BY_KEY, COUNT_FIELDS, COUNT_KEYS, display_name
from recruitment_month.summary.model import STATUS_LABELS, WeeklySummary

DASH = "—"
# The label of the link to the data-quality reports (Great Expectations' Data Docs), for ministry readers.
DATA_DOCS_LABEL = "数据质量校验报告"
# The job fairs of the headline: online and offline special fairs together.
FAIRS = ("job_fairs_online", "job_fairs_offline")
# The counts shown per unit in the email (the workbook has them all).
UNIT_EMAIL_KEYS = ("job_fairs_online", "job_fairs_offline", "employers", "positions", "graduates")
SHORT_HEADERS = {
    "job_fairs_online": "线上招聘会(场)",
    "job_fairs_offline": "线下招聘会(场)",
    "employers": "用人单位(家)",
    "positions": "岗位(个)",
    "graduates": "毕业生(人次)",
}
RULE_LABELS = {
    "cumulative_discontinuity": "累计数不衔接",
    "cumulative_decreased": "累计数减少",
    "outlier_own_history": "与本单位往周相比异常",
    "outlier_peers": "与其他单位相比异常",
    "employers_gt_positions": "用人单位多于岗位",
    "contact_missing": "未填联系人",
    "counts_all_zero": "数量全为0",
    "field_unknown": "栏目无法识别",
    "control_characters": "含控制字符(已删除)",
}
TOP_PROVINCES = 10
# What the provinces wrote: the email quotes a few units, each text cut at a sentence end near this length.
EXCERPT_UNITS = 5
EXCERPT_CHARS = 80
SENTENCE_ENDS = "。；！？;!?"
STATUS_ORDER = {"missing": 0, "rejected": 1, "late": 2, "exempt": 3, "on_time": 4}


# ------------------------------------------------------------------------------------------- formats


def cn_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def cn_day(day: date) -> str:
    return f"{day.month}月{day.day}日"


def cn_moment(moment: datetime) -> str:
    """``11月25日 17:00`` (the moment is already in the campaign's time zone)."""
    return f"{moment.month}月{moment.day}日 {moment:%H:%M}"


def fmt_int(value: Any) -> str:
    return DASH if value is None else f"{int(value):,}"


def fmt_pct(value: float | None, digits: int = 1) -> str:
    return DASH if value is None else f"{value:.{digits}%}"


def change(current: int | None, previous: int | None) -> float | None:
    """Week-over-week change as a fraction; None when there is nothing to compare with."""
    if current is None or not previous:
        return None
    return (current - previous) / previous


def fmt_change(value: float | None) -> str:
    if value is None:
        return DASH
    if round(value, 3) == 0:
        return "持平"
    return f"{'↑' if value > 0 else '↓'}{abs(value):.1%}"


def fmt_ratio(value: float | None) -> str:
    return DASH if value is None else f"{value:,.2f}"


def fmt_duration(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [
        f"{days}天" if days else "",
        f"{hours}小时" if hours else "",
        f"{minutes}分钟" if minutes else "",
    ]
    return "".join(parts) or "不足1分钟"


def cell(value: Any, kind: str) -> str:
    """A value as the email shows it."""
    if value is None or value == "":
        return DASH
    if kind == "int":
        return fmt_int(value)
    if kind == "pct":
        return fmt_pct(value)
    if kind == "change":
        return fmt_change(value)
    if kind == "ratio":
        return fmt_ratio(value)
    if kind == "time":
        return cn_moment(value)
    if kind == "status":
        return STATUS_LABELS[value]
    if kind == "flag":
        return "是" if value else ""
    return str(value)


# -------------------------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class Column:
    key: str
    label: str  # the header in the workbook and the text part
    kind: str = "text"  # text | int | pct | change | ratio | time | status | flag
    short: str | None = None  # the header in the email when the full one is too wide
    email: bool = True  # shown in the email (the workbook shows every column)
    width: int | None = None  # the email column's width in px

    @property
    def numeric(self) -> bool:
        return self.kind in ("int", "pct", "change", "ratio")

    @property
    def header(self) -> str:
        return self.short or self.label


@dataclass(frozen=True)
class Row:
    values: dict[str, Any]
    tone: str | None = None  # flag | key | total | missing | late | rejected | muted

    def __getitem__(self, key: str) -> Any:
        return self.values.get(key)


@dataclass(frozen=True)
class Table:
    key: str
    sheet: str  # the workbook sheet
    title: str
    columns: list[Column]
    rows: list[Row]
    total: Row | None = None
    email_rows: list[Row] | None = None  # the rows the email shows, when not all
    note: str | None = None  # said under the table in the email
    empty: str = "无。"

    @property
    def email_columns(self) -> list[Column]:
        return [c for c in self.columns if c.email]

    @property
    def shown_rows(self) -> list[Row]:
        return self.rows if self.email_rows is None else self.email_rows


@dataclass(frozen=True)
class Figure:
    """A headline figure: the week's national total, last week's, the change and the cumulative."""

    key: str
    label: str
    week: int
    cumulative: int
    previous: int | None
    unit: str

    @property
    def change(self) -> float | None:
        return change(self.week, self.previous)


@dataclass(frozen=True)
class Attention:
    """Units in one status that need the ministry's attention, named."""

    status: str
    label: str
    units: list[str]
    detail: list[str]  # one line per unit: name and what happened


@dataclass(frozen=True)
class Excerpt:
    """A short quotation of what one unit wrote, for the email (the workbook has the whole text)."""

    unit: str
    highlights: str
    problems: str


@dataclass(frozen=True)
class Content:
    summary: WeeklySummary
    subject: str
    title: str
    period: str
    deadline: str
    generated: str
    lead: str
    figures: list[Figure]
    attention: list[Attention]
    tables: dict[str, Table]
    notes: list[str] = field(default_factory=list)
    excerpts: list[Excerpt] = field(default_factory=list)
    data_docs_url: str | None = None  # the configured address, else the one the summary was computed with

    @property
    def status_counts(self) -> dict[str, int]:
        s = self.summary
        return {"on_time": s.on_time, "late": s.late, "missing": s.missing, "rejected": s.rejected}


def subject(summary: WeeklySummary) -> str:
    """``【校园招聘月】全国周报（初步）第3周 截至2022年11月25日：已报29/32``."""
    return (
        f"【校园招聘月】全国周报（{summary.version_label}）第{summary.week_number}周 "
        f"截至{cn_date(summary.week_ending)}：已报{summary.reported}/{summary.expected}"
    )


def _local(summary: WeeklySummary, moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(summary.deadline.tzinfo)


def _figures(summary: WeeklySummary) -> list[Figure]:
    def total(values: dict[str, int] | None, keys: tuple[str, ...]) -> int | None:
        if values is None:
            return None
        return sum(int(values.get(k, 0)) for k in keys)

    items = [
        ("positions", ("positions",), "提供岗位", "个"),
        ("employers", ("employers",), "参会用人单位", "家"),
        ("graduates", ("graduates",), "参与毕业生", "人次"),
        ("job_fairs", FAIRS, "专场招聘会", "场"),
    ]
    return [
        Figure(
            key=key,
            label=label,
            week=total(summary.national_week, keys) or 0,
            cumulative=total(summary.national_cumulative, keys) or 0,
            previous=total(summary.previous_week, keys),
            unit=unit,
        )
        for key, keys, label, unit in items
    ]


def _attention(summary: WeeklySummary) -> list[Attention]:
    out = []
    for status in ("missing", "rejected", "late"):
        units = summary.units_with(status)
        if not units:
            continue
        detail = []
        for u in units:
            if status == "late" and u.landed_at is not None:
                landed = _local(summary, u.landed_at)
                line = f"{u.name}：{cn_moment(landed)}收到，晚于截止时间{fmt_duration(landed - summary.deadline)}"
            elif status == "rejected":
                line = f"{u.name}：{u.note or '已收到文件，但均未通过校验，数据未入库'}"
            else:
                line = f"{u.name}：{u.note or '截至本版生成时未收到报送'}"
            detail.append(line)
        out.append(Attention(status, STATUS_LABELS[status], [u.name for u in units], detail))
    return out


def _status_table(summary: WeeklySummary) -> Table:
    rows = []
    for u in summary.units:
        landed = _local(summary, u.landed_at)
        if u.note:
            note = u.note
        elif u.status == "late" and landed is not None:
            note = f"晚于截止时间{fmt_duration(landed - summary.deadline)}"
        elif u.status == "missing":
            note = "截至本版生成时未收到报送"
        elif u.status == "rejected":
            note = "已收到文件，但均未通过校验"
        elif u.status == "exempt":
            note = "经批准本周免报"
        else:
            note = ""
        tone = None if u.status == "on_time" else u.status
        rows.append(
            Row(
                {
                    "code": u.code,
                    "name": u.name,
                    "status": u.status,
                    "landed_at": landed,
                    "revision": u.revision,
                    "warnings": u.warnings,
                    "note": note,
                },
                tone,
            )
        )
    attention = sorted((r for r in rows if r["status"] != "on_time"), key=lambda r: STATUS_ORDER[r["status"]])
    return Table(
        key="status",
        sheet="报送情况",
        title="报送情况",
        columns=[
            Column("code", "单位代码", email=False),
            Column("name", "单位", width=120),
            Column("status", "报送状态", "status", width=84),
            Column("landed_at", "收到时间（北京时间）", "time", short="收到时间", width=96),
            Column("revision", "版本", "int", width=40),
            Column("warnings", "数据提示(条)", "int", email=False),
            Column("note", "说明"),
        ],
        rows=rows,
        email_rows=attention,
        empty="全部单位均已按时报送。",
    )


def _national_table(summary: WeeklySummary) -> Table:
    previous = summary.previous_week
    rows = []
    for spec in COUNT_FIELDS:
        week = int(summary.national_week.get(spec.key, 0))
        prev = None if previous is None else int(previous.get(spec.key, 0))
        rows.append(
            Row(
                {
                    "key": spec.key,
                    "label": spec.header,
                    "week": week,
                    "cumulative": int(summary.national_cumulative.get(spec.key, 0)),
                    "previous": prev,
                    "change": change(week, prev),
                },
                "key" if spec.key in ("positions", "employers", "graduates") else None,
            )
        )
    return Table(
        key="national",
        sheet="全国汇总",
        title="全国汇总",
        columns=[
            Column("key", "指标代码", email=False),
            Column("label", "指标"),
            Column("week", "本周", "int", width=92),
            Column("cumulative", "累计", "int", width=100),
            Column("previous", "上周", "int", width=92),
            Column("change", "环比", "change", width=72),
        ],
        rows=rows,
        note=(
            f"本周与累计为已报送的{summary.reported}个单位最新有效版本之和；"
            f"未报送、未通过校验单位的本周数据未计入。环比为与上周全国合计相比。"
        ),
    )


def _units_table(summary: WeeklySummary) -> Table:
    columns = [
        Column("code", "单位代码", email=False),
        Column("name", "单位", width=104),
        Column("status", "报送状态", "status", short="状态", width=68),
    ]
    for key in COUNT_KEYS:
        columns.append(
            Column(key, display_name(key), "int", short=SHORT_HEADERS.get(key), email=key in UNIT_EMAIL_KEYS)
        )
    for key in COUNT_KEYS:
        cum = f"{key}_cumulative"
        columns.append(Column(cum, display_name(cum), "int", email=False))
    rows = []
    carried = False
    for u in summary.units:
        values: dict[str, Any] = {"code": u.code, "name": u.name, "status": u.status}
        for key in COUNT_KEYS:
            values[key] = u.week.get(key) if u.reported else None
            values[f"{key}_cumulative"] = u.cumulative.get(key)
        carried |= not u.reported and bool(u.cumulative)
        rows.append(Row(values, None if u.status == "on_time" else u.status))
    total: dict[str, Any] = {"code": "", "name": "全国合计", "status": None}
    for key in COUNT_KEYS:
        total[key] = int(summary.national_week.get(key, 0))
        total[f"{key}_cumulative"] = int(summary.national_cumulative.get(key, 0))
    note = "“—”表示本周未报送或未通过校验。"
    if carried:
        note += "附件中未报送单位的累计数为其最近一次报送的累计数。"
    return Table(
        key="units",
        sheet="分省数据",
        title="分省数据（本周）",
        columns=columns,
        rows=rows,
        total=Row(total, "total"),
        note=note,
    )


def _warnings_table(summary: WeeklySummary) -> Table:
    rows = []
    for w in summary.warnings:
        base = (w.field or "").removesuffix("_cumulative")
        label = display_name(w.field) if w.field and base in BY_KEY else (w.field or "")
        value: Any = w.value
        if value is not None and str(value).strip().lstrip("-").isdigit():
            value = int(str(value).strip())
        rows.append(
            Row(
                {
                    "code": w.unit_code,
                    "name": w.unit_name,
                    "rule": w.rule,
                    "rule_label": RULE_LABELS.get(w.rule, w.rule),
                    "field": label,
                    "value": value,
                    "message": w.message,
                },
                "flag",
            )
        )
    return Table(
        key="warnings",
        sheet="质量提示",
        title="数据质量提示",
        columns=[
            Column("code", "单位代码", email=False),
            Column("name", "单位", width=96),
            Column("rule", "规则代码", email=False),
            Column("rule_label", "规则", width=110),
            Column("field", "指标", email=False),
            Column(
                "value",
                "填报值",
                "int" if all(isinstance(r["value"], int) for r in rows) else "text",
                email=False,
            ),
            Column("message", "说明"),
        ],
        rows=rows,
        note="以上数据已入库并计入合计（提示不影响入库），已通知相关单位核实；如有更正将在修订版中体现。"
        if rows
        else None,
        empty="本周已报送数据未发现需要核实的问题。",
    )


def _feed_tables(summary: WeeklySummary) -> list[Table]:
    feeds = summary.feeds
    if feeds is None:
        return []
    platforms = Table(
        key="platforms",
        sheet="招聘平台",
        title="合作招聘平台",
        columns=[
            Column("code", "平台代码", email=False),
            Column("name", "平台"),
            Column("new_postings", "新发布岗位信息(条)", "int", width=130),
            Column("openings", "招聘人数(人)", "int", width=110),
            Column("duplicate_rate", "跨平台重复率", "pct", width=100),
        ],
        rows=[
            Row(
                {
                    "code": p["platform_code"],
                    "name": p["platform_name"],
                    "new_postings": int(p["new_postings"]),
                    "openings": int(p["openings"]),
                    "duplicate_rate": float(p["duplicate_rate"]),
                }
            )
            for p in feeds.by_platform
        ],
        total=Row(
            {
                "code": "",
                "name": "全国（跨平台去重）",
                "new_postings": feeds.new_postings,
                "openings": feeds.openings,
                "duplicate_rate": feeds.duplicate_rate,
            },
            "total",
        ),
        note="同一岗位在多个平台发布只计一次，因此全国合计小于各平台之和。",
    )
    provinces_sorted = sorted(feeds.by_province, key=lambda r: (-int(r["openings"]), r["unit_code"]))
    province_rows = [
        Row(
            {
                "rank": i + 1,
                "code": r["unit_code"],
                "name": r["unit_name"],
                "new_postings": int(r["new_postings"]),
                "openings": int(r["openings"]),
            }
        )
        for i, r in enumerate(provinces_sorted)
    ]
    provinces = Table(
        key="provinces",
        sheet="平台分省",
        title=f"岗位所在地（招聘人数前{min(TOP_PROVINCES, len(province_rows))}位）",
        columns=[
            Column("rank", "排名", "int", email=False),
            Column("code", "单位代码", email=False),
            Column("name", "省份"),
            Column("new_postings", "新发布岗位信息(条)", "int", width=130),
            Column("openings", "招聘人数(人)", "int", width=110),
        ],
        rows=province_rows,
        email_rows=province_rows[:TOP_PROVINCES],
        note="全部省份见附件“平台分省”表。" if len(province_rows) > TOP_PROVINCES else None,
    )
    total_openings = sum(int(r["openings"]) for r in feeds.by_industry) or 0
    industry_sorted = sorted(feeds.by_industry, key=lambda r: (-int(r["openings"]), r["industry"]))
    industries = Table(
        key="industries",
        sheet="行业",
        title="岗位所属行业",
        columns=[
            Column("industry", "行业"),
            Column("key_industry", "通知明确的重点领域", "flag", short="重点领域", width=72),
            Column("new_postings", "新发布岗位信息(条)", "int", width=130),
            Column("openings", "招聘人数(人)", "int", width=110),
            Column("share", "招聘人数占比", "pct", short="占比", width=72),
        ],
        rows=[
            Row(
                {
                    "industry": r["industry"],
                    "key_industry": bool(r.get("key_industry")),
                    "new_postings": int(r["new_postings"]),
                    "openings": int(r["openings"]),
                    "share": int(r["openings"]) / total_openings if total_openings else None,
                },
                "key" if r.get("key_industry") else None,
            )
            for r in industry_sorted
        ],
        note="加粗蓝色为教育部通知（教学厅函〔2022〕22号）明确的毕业生人数较多的重点领域：能源动力、材料化工、装备制造、建筑地产、金融。",
    )
    return [platforms, provinces, industries]


def _crosscheck_table(summary: WeeklySummary) -> Table:
    rows = [
        Row(
            {
                "code": c.unit_code,
                "name": c.unit_name,
                "reported_positions": c.reported_positions,
                "feed_openings": c.feed_openings,
                "ratio": c.ratio,
                "flag": c.flag or "",
            },
            "flag" if c.flag else None,
        )
        for c in summary.crosscheck
    ]
    flagged = sum(1 for r in rows if r.tone == "flag")
    return Table(
        key="crosscheck",
        sheet="核对",
        title="省报岗位与平台数据核对",
        columns=[
            Column("code", "单位代码", email=False),
            Column("name", "单位", width=104),
            Column("reported_positions", "省报提供岗位(个)", "int", short="省报岗位(个)", width=92),
            Column("feed_openings", "平台招聘人数(人)", "int", short="平台招聘人数", width=92),
            Column("ratio", "比值（省报÷平台）", "ratio", short="比值", width=52),
            Column("flag", "提示"),
        ],
        rows=rows,
        note=(
            f"两者统计口径不同（省报含线下招聘会岗位，平台为网上发布的岗位），比值仅用于发现明显异常；"
            f"标红的{flagged}个单位请核实。"
            if flagged
            else "两者统计口径不同，比值仅用于发现明显异常；本周未发现明显异常。"
        ),
        empty="本周没有可核对的数据。",
    )


def _trend_table(summary: WeeklySummary) -> Table:
    columns = [Column("week_number", "周次", "int"), Column("week_ending", "统计截止日期")]
    columns += [Column(key, BY_KEY[key].header, "int") for key in COUNT_KEYS]
    rows = []
    for i, (week, values) in enumerate(summary.trend):
        row: dict[str, Any] = {"week_number": i + 1, "week_ending": week}
        row.update({key: int(values.get(key, 0)) for key in COUNT_KEYS})
        rows.append(Row(row, "key" if week == summary.week_ending else None))
    return Table(key="trend", sheet="趋势", title="全国逐周合计", columns=columns, rows=rows)


def _clean(text: str | None) -> str:
    """Free text on one line: runs of white space (line breaks included) become one space."""
    return " ".join((text or "").split())


def truncate(text: str | None, limit: int = EXCERPT_CHARS) -> str:
    """``text`` on one line, cut to at most ``limit`` characters: at the last sentence end in the
    second half of the limit when there is one, else at the limit, with "……" when anything was cut."""
    text = _clean(text)
    if len(text) <= limit:
        return text
    head = text[:limit]
    end = max(head.rfind(ch) for ch in SENTENCE_ENDS)
    if end >= limit // 2:
        return head[: end + 1] + "……"
    return head.rstrip("，,、 ") + "……"


def _texts_table(summary: WeeklySummary) -> Table:
    return texts_table([summary], empty="本周没有已报送单位的文字材料。")


def texts_table(summaries: list[WeeklySummary], empty: str) -> Table:
    """What the reporting units wrote (典型做法与成效, 存在问题与建议) in ``summaries``' weeks: one row per
    reported unit and week, for the workbook's sheet (stored as text)."""
    rows = [
        Row(
            {
                "code": u.code,
                "name": u.name,
                "week_ending": summary.week_ending,
                "highlights": u.highlights or "",
                "problems": u.problems or "",
            }
        )
        for summary in summaries
        for u in summary.units
        if u.reported
    ]
    return Table(
        key="texts",
        sheet="典型做法与问题",
        title="各单位报送的典型做法与存在问题",
        columns=[
            Column("code", "单位代码"),
            Column("name", "单位"),
            Column("week_ending", "统计截止日期"),
            Column("highlights", "典型做法与成效"),
            Column("problems", "存在问题与建议"),
        ],
        rows=rows,
        empty=empty,
    )


def _excerpts(summary: WeeklySummary) -> list[Excerpt]:
    """A few units' texts for the email: those that wrote about problems first (what the ministry acts
    on), then those with practices only, each in the units' order."""
    written = [u for u in summary.units if u.reported and (_clean(u.highlights) or _clean(u.problems))]
    written.sort(key=lambda u: not _clean(u.problems))
    return [Excerpt(u.name, truncate(u.highlights), truncate(u.problems)) for u in written[:EXCERPT_UNITS]]


def _lead(summary: WeeklySummary, figures: list[Figure]) -> str:
    s = summary
    parts = [f"本周报送已于{cn_moment(s.deadline)}（北京时间）截止。应报送的{s.expected}个单位中，"]
    if s.reported == s.expected:
        parts.append(f"全部报送（按时{s.on_time}个、逾期{s.late}个）" if s.late else "全部按时报送")
    else:
        detail = f"按时{s.on_time}个" + (f"、逾期{s.late}个" if s.late else "")
        parts.append(f"已报送{s.reported}个（{detail}）")
        rest = []
        if s.missing:
            rest.append(f"未报送{s.missing}个")
        if s.rejected:
            rest.append(f"未通过校验{s.rejected}个")
        if exempt := len(s.units_with("exempt")):
            rest.append(f"免报{exempt}个")
        parts.append("，" + "、".join(rest))
    if s.is_revised:
        parts[0] = f"截至本版生成时（{cn_moment(_local(s, s.generated_at))}），应报送的{s.expected}个单位中，"
    text = "".join(parts) + "。"
    by_key = {f.key: f for f in figures}
    positions, graduates = by_key["positions"], by_key["graduates"]
    text += f"已报单位本周共提供岗位{fmt_int(positions.week)}个"
    if positions.change is not None:
        text += f"（较上周{fmt_change(positions.change)}）"
    text += f"，参与毕业生{fmt_int(graduates.week)}人次；活动开展以来累计提供岗位{fmt_int(positions.cumulative)}个。"
    return text


def _notes(summary: WeeklySummary) -> list[str]:
    notes = [
        "报送率 =（按时报送 + 逾期报送单位数）÷ 应报单位数；按时率 = 按时报送单位数 ÷ 应报单位数。"
        f"按时指在截止时间（{cn_moment(summary.deadline)}，北京时间）或之前收到，以文件到达报送目录的时间为准。",
    ]
    if not summary.is_revised:
        notes.append("本版为初步数据。截止后收到的补报或更正将计入修订版，届时另行发送。")
    if summary.feeds is not None:
        notes.append(
            "招聘平台数据来自“国家大学生就业服务平台——24365校园招聘服务”合作招聘平台本周新发布的岗位信息；"
            "跨平台重复率为在两个及以上平台发布的岗位信息所占比例。"
        )
    notes.append("“专场招聘会”为线上与线下专场招聘会之和。各表完整数据见附件 Excel 文件，可筛选、排序。")
    return notes


def build(summary: WeeklySummary, *, data_docs_url: str | None = None) -> Content:
    """Everything the email and the workbook say about ``summary``; ``data_docs_url`` (the campaign's
    configured address) replaces the Data Docs address the summary was computed with."""
    figures = _figures(summary)
    tables = [
        _status_table(summary),
        _national_table(summary),
        _units_table(summary),
        _warnings_table(summary),
        *_feed_tables(summary),
        _crosscheck_table(summary),
        _trend_table(summary),
        _texts_table(summary),
    ]
    start = summary.week_ending - timedelta(days=6)
    return Content(
        summary=summary,
        subject=subject(summary),
        title=f"全国周报（{summary.version_label}）",
        period=f"第{summary.week_number}周（{cn_day(start)}—{cn_day(summary.week_ending)}），共{summary.weeks_total}周",
        deadline=f"{cn_date(summary.deadline.date())} {summary.deadline:%H:%M}",
        generated=f"{cn_date(_local(summary, summary.generated_at).date())} {_local(summary, summary.generated_at):%H:%M}",
        lead=_lead(summary, figures),
        figures=figures,
        attention=_attention(summary),
        tables={t.key: t for t in tables},
        notes=_notes(summary),
        excerpts=_excerpts(summary),
        data_docs_url=data_docs_url or summary.data_docs_url,
    )

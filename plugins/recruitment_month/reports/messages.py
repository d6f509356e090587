"""The emails a province receives about a file it sent: a receipt or a rejection notice (Chinese).

Rendered from Jinja2 templates in ``include/templates/email``; one message per processed file, keyed by
the file in the notification ledger. A file that declares another unit also alerts the data engineers.

File and folder names come from the uploader and may hold line breaks or control characters: every
subject is built from ``text.one_line`` of them (a break in a header would start another header, and
the message could not be built at all), and bodies show them flattened the same way.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from recruitment_month.notifications import Mail
from recruitment_month.settings import settings
from recruitment_month.text import one_line

# How much of a file or folder name a body shows (a name is at most 255 bytes on most file systems).
NAME_CHARS = 260
# The figures a receipt shows, in this order.
RECEIPT_FIGURES = (
    "job_fairs_online",
    "job_fairs_offline",
    "campus_events",
    "employers",
    "positions",
    "graduates",
)


def environment():
    return _environment(settings().email_templates)


@cache
def _environment(templates: Path):
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    return Environment(
        loader=FileSystemLoader(templates),
        autoescape=select_autoescape(["html.j2"]),
        undefined=StrictUndefined,
        trim_blocks=False,
        keep_trailing_newline=True,
    )


def render(name: str, **context) -> tuple[str, str]:
    env = environment()
    return env.get_template(f"{name}.txt.j2").render(**context), env.get_template(f"{name}.html.j2").render(
        **context
    )


def local(moment, campaign) -> str:
    return moment.astimezone(campaign.tz).strftime("%Y年%m月%d日 %H:%M")


def week_label(week, campaign) -> str:
    if week is None or not campaign.is_week(week):
        return "本周"
    return f"第{campaign.week_number(week)}周（截至{week:%Y年%m月%d日}）"


def _where(problem) -> str:
    from recruitment_month.reports.fields import BY_KEY, display_name

    if problem.cell:
        return f"单元格 {problem.cell}"
    label = None
    if problem.field:
        key = problem.field
        base = key.removesuffix("_cumulative")
        label = display_name(key) if base in BY_KEY else key
    if problem.row is not None and label:
        return f"第{problem.row}行 “{label}”"
    if label:
        return f"“{label}”"
    if problem.row is not None:
        return f"第{problem.row}行"
    return "整个文件"


def for_outcome(outcome, campaign, units) -> list[Mail]:
    """The messages for one processed file."""
    from recruitment_month.problems import Severity
    from recruitment_month.reports.fields import BY_KEY, cumulative_key

    unit = units.get(outcome.folder)
    common = {
        "ministry": campaign.ministry,
        "campaign_name": campaign.name,
        "file_name": one_line(outcome.file_name, NAME_CHARS),
        "landed_local": local(outcome.landed_at, campaign),
    }
    mails: list[Mail] = []
    if outcome.status == "accepted":
        week = outcome.week_ending
        warnings = [p for p in outcome.problems if p.severity is Severity.WARN]
        context = {
            **common,
            "unit": unit,
            "week_label": week_label(week, campaign),
            "deadline_local": local(campaign.deadline(week), campaign),
            "on_time": outcome.timeliness == "on_time",
            "revision": outcome.revision,
            "figures": [
                {
                    "label": BY_KEY[k].header,
                    "week": int(outcome.record[k]),
                    "cumulative": int(outcome.record[cumulative_key(k)]),
                }
                for k in RECEIPT_FIGURES
            ],
            "warnings": warnings,
        }
        timeliness = "按时" if context["on_time"] else "逾期"
        subject = one_line(
            f"【校园招聘月】周报已收到（{timeliness}）：{unit.name} {week_label(week, campaign)}"
        )
        if warnings:
            subject += f"，{len(warnings)}处数据请核实"
        text, html = render("receipt", subject=subject, heading="周报已收到", accent="#1a7f37", **context)
        mails.append(
            Mail(
                key=f"receipt/{outcome.file_id}",
                kind="report_receipt",
                subject_ref=outcome.file_id,
                recipients=list(unit.contacts),
                subject=subject,
                text=text,
                html=html,
            )
        )
        return mails

    rejects = [p for p in outcome.problems if p.severity is Severity.REJECT]
    week = outcome.week_ending if outcome.week_ending and campaign.is_week(outcome.week_ending) else None
    problems = [
        {"where": _where(p), "value": "（空）" if p.value in (None, "") else p.value, "message": p.message}
        for p in rejects
    ]
    folder = one_line(outcome.folder, NAME_CHARS)
    unit_name = unit.name if unit else f"目录 {folder} 的报送人"
    subject = one_line(
        f"【校园招聘月】周报未通过校验，请修改后重新报送：{unit_name} {week_label(week, campaign)}"
    )
    context = {
        **common,
        "unit_name": unit_name,
        "folder": f"{folder}/",
        "deadline_local": local(campaign.deadline(week), campaign) if week else None,
        "problems": problems,
    }
    text, html = render("rejection", subject=subject, heading="周报未通过校验", accent="#cf222e", **context)
    engineers = list(campaign.recipients.data_engineers)
    mails.append(
        Mail(
            key=f"rejection/{outcome.file_id}",
            kind="report_rejection",
            subject_ref=outcome.file_id,
            recipients=list(unit.contacts) if unit else engineers,
            subject=subject,
            text=text,
            html=html,
        )
    )
    security = [p for p in rejects if p.rule in ("unit_folder_mismatch", "folder_unknown")]
    if security:
        lines = [
            "A file in a unit's inbox folder declares another unit, or lies outside any unit's folder.",
            "It was rejected and archived; no report was overwritten. Check who has access to this folder.",
            "",
            f"Folder: {folder}",
            f"File: {one_line(outcome.file_name, NAME_CHARS)} (landed {outcome.landed_at.isoformat()})",
            f"File id: {outcome.file_id}",
            *[f"{p.rule}: {p.field}={p.value!r}: {p.message}" for p in security],
        ]
        mails.append(
            Mail(
                key=f"security/{outcome.file_id}",
                kind="security_alert",
                subject_ref=outcome.file_id,
                recipients=engineers,
                subject=one_line(
                    f"[校园招聘月数据平台] 报送目录与填报单位不符 Inbox security: {outcome.folder}/{outcome.file_name}"
                ),
                text="\n".join(lines),
            )
        )
    return mails

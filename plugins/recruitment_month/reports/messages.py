"""The emails a province receives about a file it sent (Chinese), one per processed file, keyed by the
file in the notification ledger (docs/reports.md lists them with their subjects):

* a **receipt** for an accepted report; for a correction (revision 2, 3 …) it says 更正第N版, shows what
  changed since the revision it replaces, and keeps the week's timeliness, which the first accepted
  report decided (``recruitment_month.status``);
* a **rejection notice** for a file that failed validation, naming the file and when it landed;
* a **quarantine notice** for a file that could not be read at all (``parse_crashed``) or was refused
  unread for its size (``file_too_large``), in its own words.

Each is addressed to the unit's education authority by its official name; dates are written the
official way (``recruitment_month.dates``). A file that declares another unit also alerts the data
engineers. Rendered from Jinja2 templates in ``include/templates/email``.

File and folder names come from the uploader and may hold line breaks or control characters: every
subject is built from ``text.one_line`` of them (a break in a header would start another header, and
the message could not be built at all), and bodies show them flattened the same way.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from recruitment_month.dates import cn_date, cn_moment
from recruitment_month.notifications import Mail
from recruitment_month.settings import settings
from recruitment_month.status import LABELS, ON_TIME
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
# The rules that set a file aside unread, and the words of their notice: heading, and what happened.
QUARANTINE = {
    "parse_crashed": ("报送文件无法读取，已隔离", "无法读取，已隔离"),
    "file_too_large": ("报送文件过大，未予读取", "超过大小上限，未予读取"),
}
PREFIX = "【校园招聘月】"


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


def local(moment, campaign, near=None) -> str:
    """A moment in the campaign's time zone, the official way (seconds when ``near`` is within a minute)."""
    return cn_moment(moment, campaign.tz, near=near)


def week_label(week, campaign) -> str:
    if week is None or not campaign.is_week(week):
        return "本周"
    return f"第{campaign.week_number(week)}周（截至{cn_date(week)}）"


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


def _indicator(key: str | None) -> str | None:
    """The name of a count indicator (``提供岗位(个)本周``); None for anything else."""
    from recruitment_month.reports.fields import COUNT_KEYS, display_name

    if key and key.removesuffix("_cumulative") in COUNT_KEYS:
        return display_name(key)
    return None


def changes(before: dict | None, after: dict) -> list[dict]:
    """The indicators a correction changed: label, value before, value after (only those changed)."""
    from recruitment_month.reports.fields import COUNT_KEYS, cumulative_key, display_name

    if before is None:
        return []
    rows = []
    for key in COUNT_KEYS:
        for k in (key, cumulative_key(key)):
            old, new = before.get(k), after.get(k)
            if old is not None and new is not None and int(old) != int(new):
                rows.append({"label": display_name(k), "before": int(old), "after": int(new)})
    return rows


def _warning_rows(warnings, record: dict) -> list[dict]:
    """Each warning with the flagged indicator and the value the report gives it."""
    rows = []
    for p in warnings:
        value = record.get(p.field) if _indicator(p.field) else None
        shown = f"{int(value):,}" if isinstance(value, int) or str(value).isdigit() else None
        rows.append({"label": _indicator(p.field) if shown else None, "value": shown, "message": p.message})
    return rows


def for_outcome(outcome, campaign, units) -> list[Mail]:
    """The messages for one processed file."""
    unit = units.get(outcome.folder)
    if outcome.status == "accepted":
        return [_receipt(outcome, campaign, unit)]
    return _rejection(outcome, campaign, unit)


def _common(outcome, campaign) -> dict:
    return {
        "ministry": campaign.ministry,
        "campaign_name": campaign.name,
        "file_name": one_line(outcome.file_name, NAME_CHARS),
    }


def _receipt(outcome, campaign, unit) -> Mail:
    from recruitment_month.problems import Severity
    from recruitment_month.reports.fields import BY_KEY, cumulative_key

    week = outcome.week_ending
    deadline = campaign.deadline(week)
    first = outcome.first_landed_at or outcome.landed_at
    warnings = [p for p in outcome.problems if p.severity is Severity.WARN]
    timeliness = LABELS[outcome.timeliness]
    label = week_label(week, campaign)
    if outcome.revision > 1:
        heading = f"周报更正已收到（更正第{outcome.revision}版）"
        subject = f"{PREFIX}{unit.name}{label}周报更正第{outcome.revision}版已收到（本周仍按{timeliness}计）"
    else:
        heading = "周报已收到"
        subject = f"{PREFIX}{unit.name}{label}周报已收到（{timeliness}）"
    if warnings:
        subject += f"，{len(warnings)}处数据请核实"
    context = {
        **_common(outcome, campaign),
        "salutation": unit.authority,
        "week_label": label,
        "landed_local": local(outcome.landed_at, campaign, near=deadline),
        "first_local": local(first, campaign, near=deadline),
        "deadline_local": local(
            deadline, campaign, near=min(first, outcome.landed_at, key=lambda m: abs(m - deadline))
        ),
        "on_time": outcome.timeliness == ON_TIME,
        "timeliness": timeliness,
        "revision": outcome.revision,
        "changes": changes(outcome.replaced, outcome.record),
        "figures": [
            {
                "label": BY_KEY[k].header,
                "week": int(outcome.record[k]),
                "cumulative": int(outcome.record[cumulative_key(k)]),
            }
            for k in RECEIPT_FIGURES
        ],
        "warnings": _warning_rows(warnings, outcome.record),
    }
    subject = one_line(subject)
    text, html = render("receipt", subject=subject, heading=heading, accent="#1a7f37", **context)
    return Mail(
        key=f"receipt/{outcome.file_id}",
        kind="report_receipt",
        subject_ref=outcome.file_id,
        recipients=list(unit.contacts),
        subject=subject,
        text=text,
        html=html,
    )


def _rejection(outcome, campaign, unit) -> list[Mail]:
    from recruitment_month.problems import Severity

    rejects = [p for p in outcome.problems if p.severity is Severity.REJECT]
    week = outcome.week_ending if outcome.week_ending and campaign.is_week(outcome.week_ending) else None
    deadline = campaign.deadline(week) if week else None
    folder = one_line(outcome.folder, NAME_CHARS)
    unit_name = unit.name if unit else f"目录 {folder} 的报送人"
    common = _common(outcome, campaign)
    quarantine = next((QUARANTINE[p.rule] for p in rejects if p.rule in QUARANTINE), None)
    # The file and when it landed tell one notice from another, whether or not the week could be read.
    named = (
        f"“{one_line(outcome.file_name, 60)}”（{cn_moment(outcome.landed_at, campaign.tz, year=False)}收到）"
    )
    if quarantine:
        template, (heading, what) = "quarantine", quarantine
        subject = f"{PREFIX}{unit_name}报送的文件{named}{what}，请重新报送"
    else:
        template, heading = "rejection", "周报未通过校验"
        about = f"{week_label(week, campaign)}周报" if week else "报送的"
        subject = f"{PREFIX}{unit_name}{about}文件{named}未通过校验，请修改后重新报送"
    subject = one_line(subject)
    context = {
        **common,
        "salutation": unit.authority if unit else unit_name,
        "landed_local": local(outcome.landed_at, campaign, near=deadline),
        "folder": f"{folder}/",
        "deadline_local": local(deadline, campaign, near=outcome.landed_at) if deadline else None,
        "problems": [
            {
                "rule": p.rule,
                "where": _where(p),
                "value": "（空）" if p.value in (None, "") else p.value,
                "message": p.message,
            }
            for p in rejects
        ],
    }
    text, html = render(template, subject=subject, heading=heading, accent="#cf222e", **context)
    engineers = list(campaign.recipients.data_engineers)
    mails = [
        Mail(
            key=f"rejection/{outcome.file_id}",
            kind="report_rejection",
            subject_ref=outcome.file_id,
            recipients=list(unit.contacts) if unit else engineers,
            subject=subject,
            text=text,
            html=html,
        )
    ]
    security = [p for p in rejects if p.rule in ("unit_folder_mismatch", "folder_unknown")]
    if security:
        mails.append(_security_alert(outcome, folder, security, engineers))
    return mails


def _security_alert(outcome, folder: str, security, engineers: list[str]) -> Mail:
    lines = [
        "A file in a unit's inbox folder declares another unit, or lies outside any unit's folder.",
        "It was rejected and archived; no report was overwritten. Check who has access to this folder.",
        "",
        f"Folder: {folder}",
        f"File: {one_line(outcome.file_name, NAME_CHARS)} (landed {outcome.landed_at.isoformat()})",
        f"File id: {outcome.file_id}",
        *[f"{p.rule}: {p.field}={p.value!r}: {p.message}" for p in security],
    ]
    return Mail(
        key=f"security/{outcome.file_id}",
        kind="security_alert",
        subject_ref=outcome.file_id,
        recipients=engineers,
        subject=one_line(
            f"[校园招聘月数据平台] 报送目录与填报单位不符 Inbox security: {outcome.folder}/{outcome.file_name}"
        ),
        text="\n".join(lines),
    )

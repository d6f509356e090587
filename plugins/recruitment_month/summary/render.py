"""The national weekly summary email that ``friday_consolidation`` sends: :func:`render_summary` turns
a :class:`WeeklySummary` into a :class:`~recruitment_month.notifications.Mail` — a Chinese subject, an
HTML body with inline charts, a plain-text part with the same figures and an ``.xlsx`` attachment
holding every table — ready for :func:`recruitment_month.notifications.enqueue`.

The same summary always renders to the same mail (nothing reads the clock). :func:`write_outputs`
writes a mail's ``.eml``, an ``.html`` with the images inlined as ``data:`` URIs and the ``.xlsx``.

Pure module: no Airflow import; Jinja2, matplotlib and openpyxl are imported inside the functions.
"""

from __future__ import annotations

import base64
import re
import struct
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from recruitment_month.notifications import Attachment, InlineImage, Mail
from recruitment_month.settings import settings
from recruitment_month.summary.compute import CROSSCHECK_RULE

if TYPE_CHECKING:
    from recruitment_month.config import Campaign
    from recruitment_month.summary.content import Content
    from recruitment_month.summary.digest import Mailing
    from recruitment_month.summary.model import WeeklySummary

ACCENT = "#1f4e79"
XLSX_SUBTYPE = "vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CID_DOMAIN = "campus-recruitment.example.org"
IMAGE_ALT = {
    "status": "32个报送单位的报送状态",
    "trend": "全国逐周提供岗位与参与毕业生",
    "industry": "招聘平台岗位按行业分布",
}


def environment():
    return _environment(settings().email_templates)


@cache
def _environment(templates: Path):
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    from recruitment_month.summary.content import cell

    env = Environment(
        loader=FileSystemLoader(templates),
        autoescape=select_autoescape(["html.j2"]),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.do"],
    )
    env.filters["cell"] = cell
    return env


def attachment_name(summary: WeeklySummary) -> str:
    """``校园招聘月全国周报_第3周_2022-11-25_初步.xlsx`` (``…_修订第2版.xlsx`` for a revision)."""
    return (
        f"校园招聘月全国周报_第{summary.week_number}周_{summary.week_ending.isoformat()}"
        f"_{summary.version_label}.xlsx"
    )


def message_key(summary: WeeklySummary) -> str:
    return version_key(summary.week_ending.isoformat(), summary.version)


def version_key(week_ending: str, version: int) -> str:
    """The outbox key of the email of one summary version."""
    return f"weekly_summary/{week_ending}/v{version}"


def _png_size(data: bytes) -> tuple[int, int]:
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _images(summary: WeeklySummary, charts: dict[str, bytes]) -> tuple[list[InlineImage], dict]:
    """The inline images and, per chart, what the template needs: src, display size, alt text."""
    from recruitment_month.summary.charts import DPI

    images, context = [], {"industry": None}
    for name, data in charts.items():
        cid = f"{name}.{summary.week_ending:%Y%m%d}.v{summary.version}@{CID_DOMAIN}"
        width, height = _png_size(data)
        scale = DPI / 100
        images.append(InlineImage(cid=cid, content=data))
        context[name] = {
            "src": f"cid:{cid}",
            "width": round(width / scale),
            "height": round(height / scale),
            "alt": IMAGE_ALT.get(name, name),
        }
    return images, context


def render_parts(
    content: Content, images: dict, campaign: Campaign, sheets: list[str], mailing: Mailing | None = None
) -> tuple[str, str]:
    """The plain-text and the HTML body (with what ``mailing`` adds: a digest's changes, a note)."""
    from recruitment_month.summary.content import DATA_DOCS_LABEL

    env = environment()
    summary = content.summary
    context = {
        "c": content,
        "subject": content.subject,
        "heading": f"校园招聘月全国周报（{summary.version_label}）· 第{summary.week_number}周",
        "accent": ACCENT,
        "ministry": campaign.ministry,
        "campaign_name": summary.campaign_name,
        "data_team": campaign.data_team,
        "data_docs_label": DATA_DOCS_LABEL,
        "images": images,
        "attachment_name": attachment_name(summary),
        "sheet_names": sheets,
        "mailing": mailing,
        "crosscheck_rule": CROSSCHECK_RULE,
    }
    text = env.get_template("summary.txt.j2").render(**context)
    text = re.sub(r"\n{3,}", "\n\n", text)
    html = env.get_template("summary.html.j2").render(**context)
    return text, html


def render_summary(
    summary: WeeklySummary,
    *,
    campaign: Campaign | None = None,
    recipients: list[str] | None = None,
    mailing: Mailing | None = None,
) -> Mail:
    """The summary email, keyed ``weekly_summary/<week_ending>/v<version>`` in the notification ledger
    (or ``mailing.key``: a revision digest, with its account of the changes, or a note).

    ``campaign`` (default: the configured one) gives the ministry's contact line; ``recipients``
    default to the campaign's ``recipients.summary``.
    """
    from recruitment_month import config
    from recruitment_month.summary import charts, content, workbook

    campaign = campaign or config.campaign()
    built = content.build(summary, data_docs_url=campaign.data_docs_url)
    inline, image_context = _images(summary, charts.render_charts(summary))
    sheets = workbook.sheet_names(built)
    text, html = render_parts(built, image_context, campaign, sheets, mailing)
    return Mail(
        key=mailing.key if mailing else message_key(summary),
        kind="weekly_summary",
        subject_ref=summary.week_ending.isoformat(),
        recipients=list(recipients if recipients is not None else campaign.recipients.summary),
        subject=built.subject,
        text=text,
        html=html,
        images=inline,
        attachments=[
            Attachment(
                filename=attachment_name(summary),
                content=workbook.workbook_bytes(built),
                subtype=XLSX_SUBTYPE,
            )
        ],
    )


def preview_html(mail: Mail) -> str:
    """The HTML body with its ``cid:`` images inlined as ``data:`` URIs, for a browser."""
    html = mail.html or ""
    for image in mail.images:
        data = base64.b64encode(image.content).decode("ascii")
        html = html.replace(f"cid:{image.cid}", f"data:image/{image.subtype};base64,{data}")
    return html


def write_outputs(mail: Mail, out_dir: str | Path, *, sender: str | None = None) -> dict[str, Path]:
    """Write ``<name>.eml``, ``<name>.html`` (images inlined), ``<name>.txt`` and the ``.xlsx``."""
    from recruitment_month import config
    from recruitment_month.notifications import build

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    xlsx = mail.attachments[0]
    stem = Path(xlsx.filename).stem
    paths = {
        "eml": out / f"{stem}.eml",
        "html": out / f"{stem}.html",
        "txt": out / f"{stem}.txt",
        "xlsx": out / xlsx.filename,
    }
    message = build(mail, sender or config.campaign().sender)
    paths["eml"].write_bytes(message.as_bytes())
    paths["html"].write_text(preview_html(mail), encoding="utf-8")
    paths["txt"].write_text(mail.text, encoding="utf-8")
    paths["xlsx"].write_bytes(xlsx.content)
    return paths

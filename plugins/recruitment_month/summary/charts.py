"""The charts of the weekly summary email: PNG bytes drawn with matplotlib's Agg renderer.

Chinese labels need a CJK font, which matplotlib does not ship. :func:`cjk_font` finds one — a file
named by ``RECRUITMENT_CJK_FONT``, else the Noto Sans CJK collection of the ``noto-cjk-sans-otc``
package (or another packaged Noto CJK font), else a CJK font matplotlib already knows — and registers
it. Without one the charts are still drawn, with Latin labels, and a warning is logged.

Charts are drawn at twice their display size (632 px wide in the email) so that they stay sharp on
high-density screens, and the same summary always gives the same bytes.

Pure module: no Airflow import; matplotlib is imported inside the functions.
"""

from __future__ import annotations

import io
import logging
import os
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from recruitment_month.summary.model import WeeklySummary

log = logging.getLogger(__name__)

FONT_ENV = "RECRUITMENT_CJK_FONT"
# Packages that carry a CJK font file, and the file inside each, in order of preference.
FONT_PACKAGES: tuple[tuple[str, str], ...] = (
    ("noto_cjk_sans_otc", "NotoSansCJK-Regular.ttc"),
    ("manimgx_fonts_cjk", "NotoSansCJK-VF.otf.ttc"),
    ("justmytype_intl_cjk", "fonts/ofl/notosanssc/NotoSansSC[wght].ttf"),
)
# Family names with Simplified Chinese glyph shapes, preferred in this order.
CJK_FAMILIES: tuple[str, ...] = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "Microsoft YaHei",
    "PingFang SC",
    "WenQuanYi Zen Hei",
    "SimHei",
)

WIDTH_PX = 632  # display width in the email (680 minus the body's padding)
DPI = 200  # 100 px of display per inch, drawn at 2×

STATUS_COLOURS = {
    "on_time": "#2da44e",
    "late": "#d18616",
    "missing": "#cf222e",
    "rejected": "#8250df",
    "exempt": "#8c959f",
}
STATUS_EN = {
    "on_time": "On time",
    "late": "Late",
    "missing": "Missing",
    "rejected": "Rejected",
    "exempt": "Exempt",
}
ACCENT = "#1f4e79"
ACCENT_LIGHT = "#9fb8d3"
SECOND = "#d18616"
SECOND_LIGHT = "#eccb97"
GREY = "#b6bfc9"
INK = "#1f2328"
MUTED = "#57606a"

_SUFFIXES = ("壮族自治区", "回族自治区", "维吾尔自治区", "自治区", "省", "市")


def short_name(name: str) -> str:
    """``广西壮族自治区`` → ``广西``, ``新疆生产建设兵团`` → ``兵团``, ``黑龙江省`` → ``黑龙江``."""
    if name.endswith("生产建设兵团"):
        return "兵团"
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def _packaged_font_files() -> list[Path]:
    from importlib import resources
    from importlib.util import find_spec

    files = []
    explicit = os.environ.get(FONT_ENV)
    if explicit:
        if Path(explicit).is_file():
            files.append(Path(explicit))
        else:
            log.warning("%s=%s is not a file; looking for a packaged CJK font instead", FONT_ENV, explicit)
    for module, name in FONT_PACKAGES:
        try:
            if find_spec(module) is None:
                continue
            ref = resources.files(module).joinpath(name)
        except (ImportError, ValueError):
            continue
        if ref.is_file():
            files.append(Path(str(ref)))
    return files


@cache
def cjk_font() -> str | None:
    """The family name of a registered CJK font for chart labels, or None (then labels are Latin)."""
    from matplotlib import font_manager

    manager = font_manager.fontManager
    for path in _packaged_font_files():
        before = len(manager.ttflist)
        try:
            manager.addfont(str(path))
        except (OSError, RuntimeError, ValueError) as exc:
            log.warning("Cannot load the CJK font %s: %s", path, exc)
            continue
        added = {entry.name for entry in manager.ttflist[before:]}
        for family in CJK_FAMILIES:
            if family in added:
                log.debug("Chart font: %s from %s", family, path)
                return family
        if added:
            return sorted(added)[0]
    known = {entry.name for entry in manager.ttflist}
    for family in CJK_FAMILIES:
        if family in known:
            return family
    log.warning(
        "No CJK font found (install the noto-cjk-sans-otc package or set %s to a font file): "
        "chart labels are drawn in English",
        FONT_ENV,
    )
    return None


def _figure(height_px: int) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(WIDTH_PX / 100, height_px / 100), dpi=DPI, facecolor="white")


def _png(figure: Figure) -> bytes:
    """The figure as a PNG with a 256-colour palette: flat chart colours lose nothing, and the email
    is a third of the size."""
    from PIL import Image

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, facecolor="white", metadata={"Software": None})
    buffer.seek(0)
    with Image.open(buffer) as image:
        palette = image.convert("RGB").quantize(
            colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
        )
    out = io.BytesIO()
    palette.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _rc(font: str | None) -> dict:
    families = [font, "DejaVu Sans"] if font else ["DejaVu Sans"]
    return {
        "font.family": "sans-serif",
        "font.sans-serif": families,
        "font.size": 9,
        "axes.unicode_minus": False,
        "axes.edgecolor": "#d0d7de",
        "axes.labelcolor": MUTED,
        "xtick.color": MUTED,
        "ytick.color": MUTED,
        "svg.hashsalt": "recruitment-month",
    }


def _style_axes(ax) -> None:
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.tick_params(length=0)
    ax.grid(axis="y", color="#eaeef2", linewidth=0.8)
    ax.set_axisbelow(True)


def status_chart(summary: WeeklySummary, font: str | None = None) -> bytes:
    """The units as a grid of tiles coloured by submission status, in config order, with a legend."""
    from matplotlib import rc_context
    from matplotlib.patches import FancyBboxPatch, Rectangle

    from recruitment_month.summary.model import STATUS_LABELS, STATUSES

    columns = 8
    rows = max(1, -(-len(summary.units) // columns))
    with rc_context(_rc(font)):
        figure = _figure(58 * rows + 44)
        ax = figure.add_axes((0.005, 0.0, 0.99, 1.0))
        ax.set_xlim(0, columns)
        ax.set_ylim(-0.75, rows)
        ax.set_axis_off()
        for i, unit in enumerate(summary.units):
            x, y = i % columns, rows - 1 - i // columns
            colour = STATUS_COLOURS[unit.status]
            ax.add_patch(
                FancyBboxPatch(
                    (x + 0.06, y + 0.08),
                    0.88,
                    0.84,
                    boxstyle="round,pad=0,rounding_size=0.08",
                    facecolor=colour,
                    edgecolor="none",
                )
            )
            name = short_name(unit.name) if font else unit.code
            status = STATUS_LABELS[unit.status] if font else STATUS_EN[unit.status]
            ax.text(
                x + 0.5, y + 0.6, name, ha="center", va="center", color="white", fontsize=10.5, weight="bold"
            )
            ax.text(x + 0.5, y + 0.3, status, ha="center", va="center", color="white", fontsize=8)
        counts = {s: sum(1 for u in summary.units if u.status == s) for s in STATUSES}
        x = 0.08
        for status in (s for s in STATUSES if s != "exempt" or counts[s]):  # exempt only when there is one
            label = f"{STATUS_LABELS[status] if font else STATUS_EN[status]} {counts[status]}"
            ax.add_patch(Rectangle((x, -0.52), 0.16, 0.3, facecolor=STATUS_COLOURS[status], edgecolor="none"))
            ax.text(x + 0.24, -0.37, label, ha="left", va="center", color=INK, fontsize=9)
            x += 1.9
        return _png(figure)


def _wan(value: float) -> str:
    return f"{value / 10000:,.1f}万" if abs(value) >= 10000 else f"{value:,.0f}"


def trend_chart(summary: WeeklySummary, font: str | None = None) -> bytes:
    """National positions and graduates per week, over the whole campaign: this week highlighted (and
    marked preliminary when it is), the weeks still to come left empty."""
    from datetime import timedelta

    from matplotlib import rc_context
    from matplotlib.patches import Patch

    series = (
        ("positions", "提供岗位(个)", "Positions", ACCENT, ACCENT_LIGHT),
        ("graduates", "参与毕业生(人次)", "Graduates", SECOND, SECOND_LIGHT),
    )
    weeks = [week for week, _ in summary.trend] or [summary.week_ending]
    totals = [values for _, values in summary.trend] or [summary.national_week]
    future = [
        summary.week_ending + timedelta(weeks=i) for i in range(1, summary.weeks_total - len(weeks) + 1)
    ]
    with rc_context(_rc(font)):
        figure = _figure(250)
        ax = figure.add_axes((0.085, 0.24, 0.9, 0.64))
        _style_axes(ax)
        width = 0.38
        peak = max([1, *(t.get(k, 0) for t in totals for k, *_ in series)])
        for offset, (key, _zh, _en, colour, light) in zip((-width / 2, width / 2), series, strict=True):
            values = [t.get(key, 0) for t in totals]
            colours = [colour if week == summary.week_ending else light for week in weeks]
            xs = [i + offset for i in range(len(weeks))]
            ax.bar(xs, values, width=width * 0.92, color=colours)
            for x, value, week in zip(xs, values, weeks, strict=True):
                if week == summary.week_ending:
                    text = _wan(value) if font else f"{value:,}"
                    ax.text(x, value + peak * 0.02, text, ha="center", va="bottom", fontsize=8.5, color=INK)
        labels = []
        for i, week in enumerate([*weeks, *future]):
            if font:
                label = f"第{i + 1}周\n{week.month}月{week.day}日"
                if week == summary.week_ending and not summary.is_revised:
                    label += "\n（初步）"
            else:
                label = f"W{i + 1}\n{week:%m-%d}"
            labels.append(label)
        ax.set_xticks(range(len(labels)), labels, fontsize=8.5)
        for tick in ax.get_xticklabels()[len(weeks) :]:
            tick.set_color("#afb8c1")
        ax.set_xlim(-0.6, max(len(labels), 4) - 0.4)
        ax.set_ylim(0, peak * 1.15)
        ax.yaxis.set_major_formatter(lambda v, _pos: f"{v / 10000:,.0f}万" if font else f"{v / 1e6:,.1f}M")
        ax.tick_params(axis="y", labelsize=8.5)
        handles = [Patch(color=colour, label=zh if font else en) for _key, zh, en, colour, _light in series]
        ax.legend(
            handles=handles,
            loc="lower left",
            bbox_to_anchor=(0.0, 1.0),
            ncol=2,
            frameon=False,
            fontsize=9,
            borderaxespad=0.2,
        )
        return _png(figure)


def industry_chart(summary: WeeklySummary, font: str | None = None) -> bytes | None:
    """Job-feed openings by industry, largest first; the notice's key industries in the accent colour."""
    from matplotlib import rc_context
    from matplotlib.patches import Patch

    if summary.feeds is None or not summary.feeds.by_industry:
        return None
    rows = sorted(summary.feeds.by_industry, key=lambda r: (-r["openings"], r["industry"]))
    with rc_context(_rc(font)):
        figure = _figure(44 + 24 * len(rows))
        ax = figure.add_axes((0.15, 0.02, 0.72, 1 - 40 / (44 + 24 * len(rows))))
        for side in ("top", "right", "bottom"):
            ax.spines[side].set_visible(False)
        ax.tick_params(length=0)
        ax.set_xticks([])
        ys = list(range(len(rows)))[::-1]
        colours = [ACCENT if r["key_industry"] else GREY for r in rows]
        values = [r["openings"] for r in rows]
        ax.barh(ys, values, color=colours, height=0.68)
        peak = max([1, *values])
        for y, value in zip(ys, values, strict=True):
            ax.text(value + peak * 0.01, y, f"{value:,}", va="center", ha="left", fontsize=8, color=INK)
        names = [r["industry"] if font else f"#{i + 1}" for i, r in enumerate(rows)]
        ax.set_yticks(ys, names, fontsize=8.5)
        for label, row in zip(ax.get_yticklabels(), rows, strict=True):
            if row["key_industry"]:
                label.set_color(ACCENT)
                label.set_fontweight("bold")
        ax.set_xlim(0, peak * 1.16)
        ax.set_ylim(-0.6, len(rows) - 0.4)
        handles = [
            Patch(color=ACCENT, label="通知明确的重点领域" if font else "Key industries of the notice"),
            Patch(color=GREY, label="其他行业" if font else "Other industries"),
        ]
        figure.legend(
            handles=handles, loc="upper left", bbox_to_anchor=(0.15, 1.0), ncol=2, frameon=False, fontsize=8.5
        )
        return _png(figure)


def render_charts(summary: WeeklySummary) -> dict[str, bytes]:
    """Every chart of the email: name → PNG bytes (``status``, ``trend`` and, with feeds, ``industry``)."""
    font = cjk_font()
    charts = {"status": status_chart(summary, font), "trend": trend_chart(summary, font)}
    industry = industry_chart(summary, font)
    if industry is not None:
        charts["industry"] = industry
    return charts

"""A realistic :class:`WeeklySummary` for previews and tests: deterministic, no warehouse.

Provincial magnitudes are plausible (a large province reports hundreds of job fairs, thousands of
employers and around a hundred thousand positions a week; the Corps and Tibet a few thousand). Week
``week_number`` has three units that did not report by the deadline and one whose file was rejected;
each later ``version`` brings one of them in late, so versions 2, 3, … are genuine revisions with
their ``changes`` spelled out.

Preview the summary email of a sample week (the ``.eml``, an ``.html`` with the images inlined and the
``.xlsx``)::

    python -m recruitment_devkit.sample_summary OUT_DIR [--week 3] [--version 1]

Pure module: no Airflow import.
"""

from __future__ import annotations

import argparse
import random
from datetime import date, datetime, timedelta

from recruitment_devkit import unit_sizes
from recruitment_month.summary.model import (
    CrossCheck,
    FeedFigures,
    QualityWarning,
    UnitStatus,
    WeeklySummary,
)

# A week's count per unit of size (unit_sizes).
_BASE = {
    "job_fairs_online": 12, "job_fairs_offline": 25, "campus_events": 60, "employers": 1100,
    "positions": 13000, "graduates": 30000, "employers_registered": 500, "enterprise_visits": 110,
    "positions_from_visits": 2600, "guidance_sessions": 45, "guidance_participants": 15000,
    "hongzhi_trainees": 350, "key_group_fairs": 4, "matching_projects": 9,
}  # fmt: skip
# Activity over the campaign: rising into late November, easing towards the holidays.
_WEEK_FACTOR = (0.8, 1.0, 1.15, 1.1, 1.0, 0.9, 0.75, 0.6)

# Week ``week_number``: who is late at the first version, who is missing or rejected, and the order in
# which the stragglers come in (one per later version).
_LATE_AT_DEADLINE = "620000"
_STRAGGLERS = ("460000", "630000", "660000")  # 海南 missing, 青海 rejected, 兵团 missing
_REJECTED = "630000"
_OUTLIER_UNIT = "410000"  # 河南: positions far above its history
_DISCONTINUOUS_UNIT = "210000"  # 辽宁: graduates cumulative ≠ last week's + this week's
_EMPLOYERS_UNIT = "540000"  # 西藏: more employers than positions

_PLATFORM_SHARE = {
    "zhilian": 14, "qiancheng": 13, "liepin": 9, "bosszhipin": 16, "tongcheng58": 10, "lagou": 4,
    "chinahr": 5, "yingjiesheng": 8, "shixiseng": 5, "maimai": 3, "nowcoder": 4, "kanzhun": 3,
}  # fmt: skip
_INDUSTRY_SHARE = {
    "信息技术": 22, "装备制造": 10, "能源动力": 8, "材料化工": 7, "建筑地产": 7, "金融": 7,
    "医药卫生": 6, "批发零售": 6, "教育培训": 5, "交通物流": 5, "文化传媒": 4, "现代农业": 3,
}  # fmt: skip


def _weekly(code: str, week: date, index: int) -> dict[str, int]:
    rng = random.Random(f"{code}:{week.isoformat()}")
    size = unit_sizes.size(code) * _WEEK_FACTOR[min(index, len(_WEEK_FACTOR) - 1)]
    values = {key: max(1, round(base * size * rng.uniform(0.85, 1.15))) for key, base in _BASE.items()}
    return values


def _history(code: str, weeks: list[date]) -> list[dict[str, int]]:
    return [_weekly(code, week, i) for i, week in enumerate(weeks)]


def _add(total: dict[str, int], values: dict[str, int]) -> None:
    for key, value in values.items():
        total[key] = total.get(key, 0) + value


def _landed_on_time(code: str, deadline: datetime) -> datetime:
    rng = random.Random(f"landed:{code}:{deadline.date()}")
    minutes = rng.randint(8, 30 * 60)  # from 8 minutes to 30 hours before the deadline
    return (deadline - timedelta(minutes=minutes)).replace(second=rng.randint(0, 59))


def _status_at(week_index: int, version: int, code: str) -> str:
    """A unit's status in week ``week_number`` at ``version``; earlier weeks are complete and on time."""
    if code == _LATE_AT_DEADLINE:
        return "late"
    if code in _STRAGGLERS:
        arrived = _STRAGGLERS.index(code) < version - 1
        if arrived:
            return "late"
        return "rejected" if code == _REJECTED else "missing"
    return "on_time"


def _straggler_landing(code: str, deadline: datetime) -> datetime:
    delays = {
        _LATE_AT_DEADLINE: timedelta(minutes=12, seconds=31),
        "460000": timedelta(hours=16, minutes=41, seconds=5),  # Saturday 09:41
        "630000": timedelta(hours=22, minutes=20, seconds=48),  # Saturday 15:20
        "660000": timedelta(days=2, hours=17, minutes=5, seconds=12),  # Monday 10:05
    }
    return deadline + delays[code]


def sample_summary(week_number: int = 3, version: int = 1) -> WeeklySummary:
    """The summary of the 2022 campaign's week ``week_number`` (1–8) at ``version`` (1 = preliminary)."""
    from recruitment_month import config

    campaign = config.campaign()
    weeks = campaign.weeks
    if not 1 <= week_number <= len(weeks):
        raise ValueError(f"week_number must be between 1 and {len(weeks)}")
    if version < 1:
        raise ValueError("version must be 1 or more")
    tz = campaign.tz
    week = weeks[week_number - 1]
    past = weeks[:week_number]
    deadline = campaign.deadline(week)

    units: list[UnitStatus] = []
    national_week: dict[str, int] = {}
    national_cumulative: dict[str, int] = {}
    trend_totals = [dict[str, int]() for _ in past[:-1]]
    warnings: list[QualityWarning] = []
    for unit in config.units().units:
        history = _history(unit.code, past)
        for i, values in enumerate(history[:-1]):
            _add(trend_totals[i], values)
        before: dict[str, int] = {}
        for values in history[:-1]:
            _add(before, values)
        this_week = dict(history[-1])
        unit_warnings: list[QualityWarning] = []
        if unit.code == _OUTLIER_UNIT and week_number >= 2:
            typical = sorted(h["positions"] for h in history[:-1])[len(history[:-1]) // 2]
            this_week["positions"] = int(round(this_week["positions"] * 3.2, -2))
            unit_warnings.append(
                QualityWarning(
                    unit.code,
                    unit.name,
                    "outlier_own_history",
                    "positions",
                    f"{this_week['positions']}",
                    f"提供岗位(个)本周 {this_week['positions']:,} 明显高于本单位此前各周（中位数 {typical:,}）"
                    "及同类单位，请核实是否将累计数填入本周。",
                )
            )
        if unit.code == _EMPLOYERS_UNIT:
            this_week["employers"] = this_week["positions"] + 37
            unit_warnings.append(
                QualityWarning(
                    unit.code,
                    unit.name,
                    "employers_gt_positions",
                    "employers",
                    f"{this_week['employers']}",
                    f"参会用人单位(家) {this_week['employers']:,} 多于提供岗位(个) {this_week['positions']:,}，"
                    "每家用人单位至少提供1个岗位，请核实。",
                )
            )
        cumulative = dict(before)
        _add(cumulative, this_week)
        if unit.code == _DISCONTINUOUS_UNIT and week_number >= 2:
            expected = cumulative["graduates"]
            cumulative["graduates"] = expected + 1200
            unit_warnings.append(
                QualityWarning(
                    unit.code,
                    unit.name,
                    "cumulative_discontinuity",
                    "graduates_cumulative",
                    f"{cumulative['graduates']}",
                    f"参与毕业生(人次)累计 {cumulative['graduates']:,} 不等于上周累计 {before['graduates']:,} "
                    f"加本周 {this_week['graduates']:,}（应为 {expected:,}）。",
                )
            )

        status = _status_at(week_number - 1, version, unit.code)
        if status in ("missing", "rejected"):
            units.append(
                UnitStatus(
                    code=unit.code,
                    name=unit.name,
                    status=status,
                    landed_at=None,
                    revision=None,
                    week={},
                    cumulative=dict(before),  # the last cumulative figures it reported
                    note=(
                        f"{(deadline - timedelta(minutes=47)).astimezone(tz):%m月%d日 %H:%M}收到的文件未通过校验："
                        "提供岗位(个)累计小于本周数，已通知修改后重新报送"
                        if status == "rejected"
                        else None
                    ),
                )
            )
            _add(national_cumulative, before)
            continue
        if status == "late":
            landed = _straggler_landing(unit.code, deadline)
            revision = 2 if unit.code == _REJECTED else 1
        else:
            landed = _landed_on_time(unit.code, deadline)
            revision = 2 if unit.code in ("110000", "330000", "510000") else 1
        warnings.extend(unit_warnings)
        units.append(
            UnitStatus(
                code=unit.code,
                name=unit.name,
                status=status,
                landed_at=landed.astimezone(tz),
                revision=revision,
                warnings=len(unit_warnings),
                week=this_week,
                cumulative=cumulative,
            )
        )
        _add(national_week, this_week)
        _add(national_cumulative, cumulative)

    feeds = _feeds(week, units)
    summary = WeeklySummary(
        campaign_name=campaign.name,
        week_ending=week,
        week_number=week_number,
        weeks_total=len(weeks),
        version=version,
        generated_at=_generated_at(units, deadline),
        deadline=deadline,
        units=units,
        national_week=national_week,
        national_cumulative=national_cumulative,
        previous_week=trend_totals[-1] if trend_totals else None,
        trend=[*zip(past[:-1], trend_totals, strict=True), (week, dict(national_week))],
        warnings=warnings,
        feeds=feeds,
        crosscheck=_crosscheck(units, feeds),
        data_docs_url=f"https://pipeline.example.org/data-docs/provincial_report/{week.isoformat()}/index.html",
    )
    if version > 1:
        summary = _with_changes(summary, sample_summary(week_number, version - 1))
    return summary


def _generated_at(units: list[UnitStatus], deadline: datetime) -> datetime:
    latest = max((u.landed_at for u in units if u.landed_at is not None), default=deadline)
    moment = max(deadline + timedelta(minutes=30), latest + timedelta(minutes=15))
    return moment.replace(second=0, microsecond=0)


def _feeds(week: date, units: list[UnitStatus]) -> FeedFigures:
    from recruitment_month import config

    rng = random.Random(f"feeds:{week.isoformat()}")
    by_platform = []
    for p in config.platforms():
        postings = round(_PLATFORM_SHARE.get(p.code, 5) * 3100 * rng.uniform(0.9, 1.1))
        by_platform.append(
            {
                "platform_code": p.code,
                "platform_name": p.name,
                "new_postings": postings,
                "openings": round(postings * rng.uniform(2.2, 3.1)),
                "duplicate_rate": round(rng.uniform(0.14, 0.36), 4),
            }
        )
    duplicate_rate = round(
        sum(p["new_postings"] * p["duplicate_rate"] for p in by_platform)
        / sum(p["new_postings"] for p in by_platform),
        4,
    )
    unique = round(sum(p["new_postings"] for p in by_platform) * (1 - duplicate_rate / 2))
    openings = round(sum(p["openings"] for p in by_platform) * (1 - duplicate_rate / 2))

    def split(total: int, weights: dict[str, float]) -> dict[str, int]:
        noisy = {k: w * rng.uniform(0.9, 1.1) for k, w in weights.items()}
        scale = total / sum(noisy.values())
        parts = {k: int(v * scale) for k, v in noisy.items()}
        first = next(iter(parts))
        parts[first] += total - sum(parts.values())
        return parts

    names = {u.code: u.name for u in units}
    province_postings = split(unique, {u.code: unit_sizes.size(u.code) for u in units})
    # Platforms list many jobs of Beijing head offices under Beijing.
    weights = {u.code: unit_sizes.size(u.code) * (3.2 if u.code == "110000" else 1.0) for u in units}
    province_openings = split(openings, weights)
    industry_postings = split(unique, _INDUSTRY_SHARE)
    industry_openings = split(openings, _INDUSTRY_SHARE)
    key = set(config.campaign().key_industries)
    return FeedFigures(
        new_postings=unique,
        openings=openings,
        duplicate_rate=duplicate_rate,
        by_platform=by_platform,
        by_province=[
            {
                "unit_code": code,
                "unit_name": names[code],
                "new_postings": province_postings[code],
                "openings": province_openings[code],
            }
            for code in names
        ],
        by_industry=[
            {
                "industry": name,
                "new_postings": industry_postings[name],
                "openings": industry_openings[name],
                "key_industry": name in key,
            }
            for name in _INDUSTRY_SHARE
        ],
    )


def _crosscheck(units: list[UnitStatus], feeds: FeedFigures) -> list[CrossCheck]:
    openings = {row["unit_code"]: row["openings"] for row in feeds.by_province}
    rows = []
    for unit in units:
        if not unit.reported:
            continue
        reported = unit.week.get("positions", 0)
        feed = openings.get(unit.code, 0)
        ratio = round(reported / feed, 2) if feed else None
        flag = None
        if ratio is not None and ratio > 5:
            flag = f"省报岗位数为平台招聘人数的{ratio:.1f}倍，明显偏高，请核实是否重复统计或填入累计数"
        elif ratio is not None and ratio < 1:
            flag = (
                f"省报岗位数仅为平台在本地发布招聘人数的{ratio:.0%}，可能存在漏报，或平台将总部岗位计入本地"
            )
        rows.append(CrossCheck(unit.code, unit.name, reported, feed, ratio, flag))
    return rows


def _with_changes(summary: WeeklySummary, before: WeeklySummary) -> WeeklySummary:
    from dataclasses import replace

    from recruitment_month.reports.fields import BY_KEY

    tz = summary.deadline.tzinfo
    old = {u.code: u for u in before.units}
    changes = []
    for unit in summary.units:
        was = old[unit.code]
        if unit.reported and not was.reported:
            changes.append(
                f"{unit.name}于{unit.landed_at.astimezone(tz):%m月%d日 %H:%M}逾期报送"
                f"（此前为“{was.status_label}”），本周数据已计入全国合计。"
            )
    for key in ("positions", "employers", "graduates"):
        a, b = before.national_week.get(key, 0), summary.national_week.get(key, 0)
        if a != b:
            changes.append(f"全国{BY_KEY[key].header}本周合计由 {a:,} 调整为 {b:,}（{b - a:+,}）。")
    changes.append(
        f"报送率由 {before.reporting_rate:.1%}（{before.reported}/{before.expected}）"
        f"变为 {summary.reporting_rate:.1%}（{summary.reported}/{summary.expected}）。"
    )
    return replace(summary, changes=changes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m recruitment_devkit.sample_summary",
        description="Render the national weekly summary email of a sample summary for preview.",
    )
    parser.add_argument("out_dir", metavar="OUT_DIR", help="folder for the .eml, .html, .txt and .xlsx")
    parser.add_argument("--week", type=int, default=3, help="week number (default 3)")
    parser.add_argument("--version", type=int, default=1, help="1 = preliminary, 2.. = revised (default 1)")
    args = parser.parse_args(argv)

    import logging

    from recruitment_month.summary.render import render_summary, write_outputs

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    mail = render_summary(sample_summary(week_number=args.week, version=args.version))
    for kind, path in write_outputs(mail, args.out_dir).items():
        print(f"{kind:5} {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

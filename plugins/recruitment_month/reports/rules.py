"""Rules that need history: cumulative continuity, cumulative never decreasing, outliers (docs/reports.md).

All are warnings: the report is loaded and flagged. Outliers use the modified z-score of Iglewicz and
Hoaglin (0.6745·(x − median)/MAD, flagged above 3.5), as DHIS2's outlier analysis does, on log(1 + x),
and a value must also be at least three times (or a third of) the typical one: weekly activity varies
by tens of percent, a mistyped figure by a factor of ten. Two references:

* the unit's own other weeks (once it has three);
* the peers of the same week (once eight have reported), from the first week on. Provinces differ fifty
  times in size, so peers are compared on the report's *profile*: each count relative to the report's
  own overall scale (the mean of its log counts). A figure with an extra digit stands out of its own
  report's profile whatever the province's size.

Pure module: no Airflow import.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping
from datetime import date

from recruitment_month.problems import Problem, Severity
from recruitment_month.reports.fields import COUNT_FIELDS, cumulative_key

Z_THRESHOLD = 3.5
MIN_FACTOR = math.log(3)  # at least 3x or 1/3 of the typical value, on the log scale
MIN_OWN_WEEKS = 3
MIN_PEERS = 8
# Below this, differences are noise (3 fairs instead of 1 is not an outlier).
MIN_MAGNITUDE = 20


def _modified_z(value: float, reference: list[float]) -> float | None:
    median = statistics.median(reference)
    mad = statistics.median(abs(x - median) for x in reference)
    if mad == 0:
        # Every reference value is the same: fall back to the mean absolute deviation, and to an
        # order of magnitude when even that is zero.
        mean_ad = statistics.fmean(abs(x - median) for x in reference)
        if mean_ad == 0:
            return None if abs(value - median) < math.log(10) else math.copysign(math.inf, value - median)
        return (value - median) / (1.253314 * mean_ad)
    return 0.6745 * (value - median) / mad


def _typical(reference: Iterable[float]) -> str:
    raw = sorted(round(math.expm1(x)) for x in reference)
    low, high = raw[len(raw) // 4], raw[(3 * len(raw)) // 4]
    return f"{low:,}–{high:,}" if low != high else f"{low:,}"


def _scale(record: Mapping) -> float:
    return statistics.fmean(math.log1p(int(record[spec.key])) for spec in COUNT_FIELDS)


def _profile(record: Mapping, key: str) -> float:
    """A count relative to its report's own scale, on the log scale."""
    return math.log1p(int(record[key])) - _scale(record)


def _expected_from_profile(record: Mapping, key: str, peers: list[float]) -> int:
    # Solving log1p(x) - mean(log1p(others ∪ x)) = median profile for x, approximately.
    n = len(COUNT_FIELDS)
    others = (_scale(record) * n - math.log1p(int(record[key]))) / (n - 1)
    return round(math.expm1(others + statistics.median(peers) * n / (n - 1)))


def check_history(
    record: Mapping, own_history: list[Mapping], peers_same_week: list[Mapping]
) -> list[Problem]:
    """Warnings for ``record`` given the unit's current reports of *other* weeks and the other units'
    current reports of the same week (each a mapping with ``week_ending`` and the count keys)."""
    problems: list[Problem] = []
    week: date = record["week_ending"]
    earlier = sorted((r for r in own_history if r["week_ending"] < week), key=lambda r: r["week_ending"])
    previous = earlier[-1] if earlier else None
    for spec in COUNT_FIELDS:
        key, cum = spec.key, cumulative_key(spec.key)
        weekly, cumulative = int(record[key]), int(record[cum])
        if previous is not None:
            before = int(previous[cum])
            label = f"{spec.header}累计"
            prev_week = previous["week_ending"]
            if cumulative < before:
                problems.append(
                    Problem(
                        rule="cumulative_decreased",
                        severity=Severity.WARN,
                        field=cum,
                        value=str(cumulative),
                        message=f"“{label}”为{cumulative:,}，比上一次报送（截至{prev_week:%Y年%m月%d日}）的{before:,}还少：累计数不应减少，请核实。",
                    )
                )
            elif cumulative != before + weekly and (week - prev_week).days == 7:
                problems.append(
                    Problem(
                        rule="cumulative_discontinuity",
                        severity=Severity.WARN,
                        field=cum,
                        value=str(cumulative),
                        message=(
                            f"“{label}”为{cumulative:,}，但上周累计{before:,}加本周{weekly:,}应为{before + weekly:,}，请核实。"
                        ),
                    )
                )
        if weekly < MIN_MAGNITUDE and all(int(r[key]) < MIN_MAGNITUDE for r in [*earlier, *peers_same_week]):
            continue
        value = math.log1p(weekly)
        own = [math.log1p(int(r[key])) for r in own_history if r["week_ending"] != week]
        label = f"{spec.header}本周"
        flagged = False
        if len(own) >= MIN_OWN_WEEKS:
            z = _modified_z(value, own)
            far = abs(value - statistics.median(own)) >= MIN_FACTOR
            if (
                z is not None
                and abs(z) > Z_THRESHOLD
                and far
                and max(weekly, math.expm1(max(own))) >= MIN_MAGNITUDE
            ):
                flagged = True
                direction = "远高于" if z > 0 else "远低于"
                problems.append(
                    Problem(
                        rule="outlier_own_history",
                        severity=Severity.WARN,
                        field=key,
                        value=str(weekly),
                        message=f"“{label}”为{weekly:,}，{direction}本单位此前各周（通常为{_typical(own)}），请核实是否多填或少填了位数。",
                    )
                )
        peers = [_profile(r, key) for r in peers_same_week]
        if not flagged and len(peers) >= MIN_PEERS:
            mine = _profile(record, key)
            z = _modified_z(mine, peers)
            far = abs(mine - statistics.median(peers)) >= MIN_FACTOR
            if z is not None and abs(z) > Z_THRESHOLD and far and weekly >= MIN_MAGNITUDE:
                direction = "远高于" if z > 0 else "远低于"
                problems.append(
                    Problem(
                        rule="outlier_peers",
                        severity=Severity.WARN,
                        field=key,
                        value=str(weekly),
                        message=(
                            f"“{label}”为{weekly:,}，与本报告其他各项数据相比{direction}同周其他省份的一般比例"
                            f"（按其他各项推算，通常约为{_expected_from_profile(record, key, peers):,}），请核实是否多填或少填了位数。"
                        ),
                    )
                )
    return problems

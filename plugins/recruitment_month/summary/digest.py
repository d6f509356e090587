"""What changed in a week's summary since the version last mailed to the ministry: the digest's account.

A closed week's revisions are stored as they come, but the ministry gets at most one revised summary a
week a day (``summary/pipeline.py``). That email holds the latest version and, after the same headline
figures as every summary, a short account of the difference from the version last mailed — whatever
happened in the versions between: the units that have reported since (with their status), the other
units whose status changed, the headline indicators before → after, and, per unit, which of its
figures were corrected. Not every figure: the tables of the email hold those.

:func:`compare` takes both versions as the mart keeps them (``compute.payload``), so the account of a
digest can be rebuilt at any time from the warehouse. :class:`Mailing` is what an email adds to the
summary it renders: its outbox key, the digest, and a sign-off note.

Pure module: no Airflow import.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from recruitment_month.reports.fields import BY_KEY, COUNT_KEYS
from recruitment_month.summary.model import STATUS_LABELS

REPORTED = ("on_time", "late")
UNSIGNED_NOTE = "本邮件未经审核人签发：审核时限内未收到审核意见，按活动设定先行发送。如有更正将另行通知。"


@dataclass(frozen=True)
class Indicator:
    label: str
    before: str
    after: str


@dataclass(frozen=True)
class UnitChange:
    name: str
    before: str | None  # a status label, or None for "changed figures"
    after: str | None
    fields: list[str] = field(default_factory=list)  # the headers of the figures that changed


@dataclass(frozen=True)
class Digest:
    """The difference between the version last mailed (``since``) and the one mailed now (``version``)."""

    since: int
    version: int
    added: list[UnitChange]  # units that have reported since, with their status
    status: list[UnitChange]  # other units whose status changed
    headline: list[Indicator]  # headline indicators that changed, before → after
    corrected: list[UnitChange]  # units whose own figures changed, and which

    @property
    def empty(self) -> bool:
        return not (self.added or self.status or self.headline or self.corrected)


@dataclass(frozen=True)
class Mailing:
    """What one email of a summary version adds to it: its outbox key, the digest of a revision
    (None for the preliminary), and a note (the summary went out without sign-off)."""

    key: str
    digest: Digest | None = None
    note: str | None = None


def digest_key(week_ending: str, day: str) -> str:
    """The outbox key of a week's digest of one day: at most one a week a day."""
    return f"weekly_summary/{week_ending}/digest/{day}"


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def _counts(units: list[dict]) -> dict[str, int]:
    reported = sum(1 for u in units if u["status"] in REPORTED)
    on_time = sum(1 for u in units if u["status"] == "on_time")
    return {"reported": reported, "on_time": on_time, "expected": len(units)}


def _headline(before: dict, after: dict) -> list[Indicator]:
    was, now = _counts(before["units"]), _counts(after["units"])
    out = []
    if was["reported"] != now["reported"]:
        out.append(
            Indicator(
                "已报送单位", f"{was['reported']}/{was['expected']}", f"{now['reported']}/{now['expected']}"
            )
        )
        out.append(
            Indicator(
                "报送率",
                _pct(was["reported"] / max(was["expected"], 1)),
                _pct(now["reported"] / max(now["expected"], 1)),
            )
        )
    if was["on_time"] != now["on_time"]:
        out.append(
            Indicator(
                "按时率",
                _pct(was["on_time"] / max(was["expected"], 1)),
                _pct(now["on_time"] / max(now["expected"], 1)),
            )
        )
    for key in COUNT_KEYS:
        old, new = int(before["national_week"].get(key, 0)), int(after["national_week"].get(key, 0))
        if old != new:
            out.append(Indicator(f"全国{BY_KEY[key].header}本周", f"{old:,}", f"{new:,}"))
    return out


def _changed_fields(old: dict, new: dict) -> list[str]:
    return [
        BY_KEY[k].header
        for k in COUNT_KEYS
        if (old.get("week") or {}).get(k) != (new.get("week") or {}).get(k)
    ]


def compare(before: dict, after: dict) -> Digest:
    """The digest of ``after`` against ``before`` (both stored payloads of one week)."""
    old_units = {u["code"]: u for u in before["units"]}
    added, status, corrected = [], [], []
    for unit in after["units"]:
        old = old_units.get(unit["code"])
        was = old["status"] if old else "missing"
        label = STATUS_LABELS[unit["status"]]
        if was != unit["status"]:
            change = UnitChange(unit["name"], STATUS_LABELS.get(was, was), label)
            (added if unit["status"] in REPORTED and was not in REPORTED else status).append(change)
        elif was in REPORTED and (fields := _changed_fields(old, unit)):
            corrected.append(UnitChange(unit["name"], None, None, fields))
    return Digest(
        since=before["version"],
        version=after["version"],
        added=added,
        status=status,
        headline=_headline(before, after),
        corrected=corrected,
    )

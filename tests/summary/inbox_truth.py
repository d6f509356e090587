"""What the demo inbox says a week's summary must show, worked out from its manifest alone (the files
each unit sent, when they landed and what they hold), to check the pipeline's summaries against."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from recruitment_devkit.demo_inbox import DemoManifest


@dataclass(frozen=True)
class UnitTruth:
    status: str  # on_time, late, missing, rejected
    record: dict | None  # the latest accepted file's record landed by then
    landed_at: datetime | None


def unit_truth(manifest: DemoManifest, code: str, week: date, as_of: datetime) -> UnitTruth:
    report = manifest.report(code, week)
    landed = [f for f in report.files if f.landed_at <= as_of]
    accepted = [f for f in landed if f.expect == "accepted"]
    if accepted:
        status = "on_time" if accepted[0].landed_at <= report.deadline else "late"
        return UnitTruth(status, accepted[-1].record, accepted[-1].landed_at)
    status = "rejected" if landed else "missing"
    return UnitTruth(status, None, None)


def week_truth(manifest: DemoManifest, codes: list[str], week: date, as_of: datetime) -> dict[str, UnitTruth]:
    return {code: unit_truth(manifest, code, week, as_of) for code in codes}

"""One shape for everything that can be wrong with a received record.

A report or a posting that breaks a rule yields ``Problem`` objects: what rule failed, where (row and
field, or the spreadsheet cell), the value found, and a message in plain Chinese for the sender.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum


class Severity(StrEnum):
    REJECT = "reject"  # the record is not loaded
    WARN = "warn"  # loaded and flagged


@dataclass(frozen=True)
class Problem:
    rule: str
    severity: Severity
    message: str
    field: str | None = None
    value: str | None = None
    row: int | None = None
    cell: str | None = None

    def as_dict(self) -> dict:
        data = asdict(self)
        data["severity"] = str(self.severity)
        return data


def rejects(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity is Severity.REJECT]


def warnings(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity is Severity.WARN]

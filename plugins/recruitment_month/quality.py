"""Data quality with Great Expectations, configured at run time.

Suites are JSON files in ``include/expectations/<name>.json`` in Great Expectations' own format. Each
expectation carries its ``severity`` (``critical`` → the record is rejected, ``warning`` → loaded and
flagged) and in ``meta`` a stable ``rule`` id and a Chinese ``message`` for the sender. ``validate``
returns row-level failures (row, column, value, expectation, rule, severity) and ``record`` writes the
outcome to the audit layer before anyone raises, so a summary can still say what failed.

Importing this module is free: Great Expectations and pandas are imported inside the functions.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recruitment_month.problems import Severity
from recruitment_month.settings import settings

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy.engine import Connection

_SEVERITY = {"critical": Severity.REJECT, "warning": Severity.WARN, "info": Severity.WARN}


@dataclass(frozen=True)
class RowFailure:
    row: int | None  # the DataFrame index label of the failing row; None for a table-level failure
    column: str | None
    value: Any
    expectation: str
    rule: str
    severity: Severity
    message: str


@dataclass
class Outcome:
    suite: str
    success: bool  # no expectation of any severity failed
    evaluated: int
    failed_expectations: int
    rows: int
    failures: list[RowFailure] = field(default_factory=list)
    results: list[dict] = field(default_factory=list)
    gx_result: Any = field(default=None, repr=False, compare=False)  # for Data Docs

    @property
    def rejected_rows(self) -> set[int]:
        return {f.row for f in self.failures if f.severity is Severity.REJECT and f.row is not None}

    @property
    def has_rejects(self) -> bool:
        return any(f.severity is Severity.REJECT for f in self.failures)

    def failures_for(self, row: int) -> list[RowFailure]:
        return [f for f in self.failures if f.row == row or f.row is None]


def load_suite(name: str) -> dict:
    """The suite ``include/expectations/<name>.json`` as a dict (each file read once per process)."""
    return _load_suite(settings().expectations_dir / f"{name}.json")


@cache
def _load_suite(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read the expectation suite: {exc}") from exc
    for number, exp in enumerate(data.get("expectations", [])):
        meta = exp.get("meta") or {}
        if not meta.get("rule") or not meta.get("message"):
            raise ValueError(f"{path}: expectations[{number}] needs meta.rule and meta.message")
        if exp.get("severity", "critical") not in _SEVERITY:
            raise ValueError(f"{path}: expectations[{number}] has unknown severity {exp['severity']!r}")
    return data


@cache
def _context():
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.execution_engine import pandas_execution_engine

    # GX fingerprints every in-memory DataFrame below this size by hashing all its values, only to put
    # the fingerprint in the batch markers, which nothing here reads: a third of a validation's time.
    pandas_execution_engine.HASH_THRESHOLD = 0
    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    asset = ctx.data_sources.add_pandas("frames").add_dataframe_asset("frame")
    return ctx, asset.add_batch_definition_whole_dataframe("whole")


@cache
def _suite(name: str):
    from great_expectations.core import ExpectationSuite

    ctx, _ = _context()
    return ctx.suites.add(ExpectationSuite(**json.loads(json.dumps(load_suite(name)))))


def suite_columns(name: str) -> list[str]:
    """The columns a suite's expectations look at (validating only those spares hashing the rest)."""
    seen: dict[str, None] = {}
    for exp in load_suite(name).get("expectations", []):
        for column in _columns(exp.get("kwargs", {})):
            seen[column] = None
    return list(seen)


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _columns(kwargs: dict) -> list[str]:
    if "column" in kwargs:
        return [kwargs["column"]]
    if "column_A" in kwargs:
        return [kwargs["column_A"], kwargs["column_B"]]
    return list(kwargs.get("column_list") or [])


def validate(frame: pd.DataFrame, suite_name: str, parameters: dict | None = None) -> Outcome:
    """Validate ``frame`` against the suite; every failing row of every expectation is returned.

    ``parameters`` fill the suite's ``{"$PARAMETER": name}`` values (e.g. the campaign's weeks)."""
    _, batch_definition = _context()
    suite = _suite(suite_name)
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
    # Fast path: most frames pass, and a yes/no costs a third less than listing every failing row.
    result = batch.validate(
        suite, expectation_parameters=parameters or {}, result_format={"result_format": "BOOLEAN_ONLY"}
    )
    if not result.success:
        result = batch.validate(
            suite, expectation_parameters=parameters or {}, result_format={"result_format": "COMPLETE"}
        )
    failures: list[RowFailure] = []
    results: list[dict] = []
    failed = 0
    for res in result.results:
        cfg = res.expectation_config
        severity = _SEVERITY[str(getattr(cfg.severity, "value", cfg.severity) or "critical")]
        meta = cfg.meta or {}
        columns = _columns(cfg.kwargs)
        outcome = res.result or {}
        if res.exception_info and res.exception_info.get("raised_exception"):
            raise RuntimeError(
                f"expectation {cfg.type} on {columns} raised: {res.exception_info.get('exception_message')}"
            )
        results.append(
            {
                "expectation": cfg.type,
                "rule": meta["rule"],
                "columns": columns,
                "severity": str(severity),
                "success": bool(res.success),
                "unexpected_count": outcome.get("unexpected_count"),
                "observed_value": _plain(outcome.get("observed_value")),
            }
        )
        if res.success:
            continue
        failed += 1
        indexes = outcome.get("unexpected_index_list")
        if indexes is None:
            failures.append(
                RowFailure(
                    row=None,
                    column=columns[0] if columns else None,
                    value=_plain(outcome.get("observed_value")),
                    expectation=cfg.type,
                    rule=meta["rule"],
                    severity=severity,
                    message=meta["message"],
                )
            )
            continue
        values = outcome.get("unexpected_list") or [None] * len(indexes)
        for index, value in zip(indexes, values, strict=False):
            row = index if not isinstance(index, dict) else next(iter(index.values()))
            value = _plain(value)
            if len(columns) > 1 and isinstance(value, list):
                value = dict(zip(columns, value, strict=False))
            failures.append(
                RowFailure(
                    row=_plain(row),
                    column=columns[0] if columns else None,
                    value=value,
                    expectation=cfg.type,
                    rule=meta["rule"],
                    severity=severity,
                    message=meta["message"],
                )
            )
    return Outcome(
        suite=suite_name,
        success=bool(result.success),
        evaluated=int(result.statistics["evaluated_expectations"]),
        failed_expectations=failed,
        rows=len(frame),
        failures=failures,
        results=results,
        gx_result=result,
    )


def data_docs_dir() -> Path:
    """Where the Data Docs site is written: ``<data>/datadocs`` (served as a static site)."""
    return settings().data_docs


def data_docs_url() -> str:
    """The address of the Data Docs' index for people: ``RECRUITMENT_DATA_DOCS_URL`` (the web server that
    serves the folder in production), else the local file."""
    return settings().data_docs_url


def _slug(text: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:150]


def _escaped(value: Any) -> Any:
    """``value`` with every string in it (also dict keys) HTML-escaped."""
    import html as html_lib

    if isinstance(value, str):
        return html_lib.escape(value)
    if isinstance(value, dict):
        return {_escaped(k): _escaped(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_escaped(v) for v in value)
    return value


def _escaped_result(gx_result: Any) -> Any:
    """A copy of a validation result whose observed data is HTML-escaped.

    Great Expectations' page templates put failing values (``unexpected_list``, the partial lists and
    counts, ``observed_value``, an exception's message) into the page as raw HTML. Those values come
    from senders and partner platforms: a posting title ``<img src=x onerror=…>`` would run in the
    browser of whoever opens the page from the summary email. The suite's own configuration (rules,
    columns, messages) is the project's and is left as it is."""
    import copy

    safe = copy.copy(gx_result)
    safe.results = []
    for res in gx_result.results:
        each = copy.copy(res)
        each.result = _escaped(res.result or {})
        each.exception_info = _escaped(res.exception_info or {})
        safe.results.append(each)
    return safe


def publish(outcome: Outcome, *, run_key: str, target: str) -> Path | None:
    """Render the validation as a Great Expectations Data Docs page and refresh the site's index.

    Pages are named by run key, so a rerun replaces its page rather than adding one."""
    import html as html_lib

    if outcome.gx_result is None:
        return None
    from great_expectations.render.renderer import ValidationResultsPageRenderer
    from great_expectations.render.view import DefaultJinjaPageView

    root = data_docs_dir()
    pages = root / "validations"
    pages.mkdir(parents=True, exist_ok=True)
    name = _slug(run_key)
    page = pages / f"{name}.html"
    page.write_text(
        DefaultJinjaPageView().render(
            ValidationResultsPageRenderer().render(_escaped_result(outcome.gx_result))
        ),
        encoding="utf-8",
    )
    meta = {
        "run_key": run_key,
        "suite": outcome.suite,
        "target": target,
        "success": outcome.success,
        "rows": outcome.rows,
        "failed_expectations": outcome.failed_expectations,
        "validated_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (pages / f"{name}.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    entries = []
    for sidecar in pages.glob("*.json"):
        try:
            entries.append((sidecar.stem, json.loads(sidecar.read_text(encoding="utf-8"))))
        except ValueError:
            continue
    entries.sort(key=lambda e: e[1].get("validated_at", ""), reverse=True)
    rows = "".join(
        "<tr><td>{at}</td><td>{suite}</td><td><a href='validations/{stem}.html'>{key}</a></td><td>{target}</td>"
        "<td>{rows}</td><td style='color:{colour}'>{status}</td></tr>".format(
            at=html_lib.escape(m.get("validated_at", "")),
            suite=html_lib.escape(m.get("suite", "")),
            stem=html_lib.escape(stem),
            key=html_lib.escape(m.get("run_key", "")),
            target=html_lib.escape(m.get("target", "")),
            rows=m.get("rows", ""),
            colour="#1a7f37" if m.get("success") else "#cf222e",
            status="passed" if m.get("success") else f"{m.get('failed_expectations')} expectation(s) failed",
        )
        for stem, m in entries
    )
    (root / "index.html").write_text(
        "<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'><title>Data Docs — 校园招聘月</title>"
        "<style>body{font-family:sans-serif;margin:24px}td,th{border-bottom:1px solid #ddd;padding:4px 8px;"
        "text-align:left}</style></head><body><h1>Data quality: every validation (Great Expectations)</h1>"
        "<table><tr><th>Validated (UTC)</th><th>Suite</th><th>Run</th><th>What</th><th>Rows</th><th>Result</th></tr>"
        + rows
        + "</table></body></html>",
        encoding="utf-8",
    )
    return page


def record(conn: Connection, outcome: Outcome, *, run_key: str, target: str) -> None:
    """Write the validation to ``audit_quality_run`` (the same run_key overwrites: reruns are idempotent)
    and publish it to the Data Docs."""
    from recruitment_month import schema, warehouse

    publish(outcome, run_key=run_key, target=target)
    warehouse.upsert(
        conn,
        schema.audit_quality_run,
        [
            {
                "run_key": run_key,
                "suite": outcome.suite,
                "target": target,
                "success": outcome.success,
                "evaluated_expectations": outcome.evaluated,
                "failed_expectations": outcome.failed_expectations,
                "rows": outcome.rows,
                "failed_rows": len({f.row for f in outcome.failures if f.row is not None}),
                "results": outcome.results,
                "validated_at": datetime.now(UTC),
            }
        ],
        ["run_key"],
    )

"""The job_feeds DAG's steps: window, extract (land raw pages), load (merge), link (fuzzy), report.

Each step takes and returns small dicts (XCom-sized); the postings travel through the landed raw file.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger(__name__)


def raw_dir() -> Path:
    from recruitment_month.settings import settings

    return settings().raw_feeds


def window(params: dict | None, interval_start, interval_end) -> tuple[datetime, datetime]:
    """The window to pull: the params ``since``/``until`` of a manual run, else the data interval."""
    params = params or {}
    since = datetime.fromisoformat(params["since"]) if params.get("since") else interval_start
    until = datetime.fromisoformat(params["until"]) if params.get("until") else interval_end
    if since is None or until is None:
        raise ValueError(
            "no window: give the params 'since' and 'until' (ISO-8601) or run on a data interval"
        )
    if since.tzinfo is None or until.tzinfo is None:
        raise ValueError(f"window {since} – {until}: times need a zone (e.g. +08:00 or Z)")
    if until <= since:
        raise ValueError(f"window {since} – {until} is empty")
    return since, until


def watermark_since(platform_code: str, since: datetime, until: datetime) -> datetime:
    """Where a scheduled pull must start so that no interval is skipped: the end of the platform's last
    load before ``until`` when that is earlier than ``since`` (the scheduler was down, runs were
    skipped), else ``since``. A rerun of an old interval is unaffected (its own end is later)."""
    from sqlalchemy import func, select

    from recruitment_month import warehouse
    from recruitment_month.schema import audit_load

    with warehouse.engine().connect() as conn:
        last = conn.execute(
            select(func.max(audit_load.c.interval_end)).where(
                audit_load.c.dag_id == "job_feeds",
                audit_load.c.subject == platform_code,
                audit_load.c.interval_end <= until,
            )
        ).scalar()
    if last is not None and last < since:
        log.warning("%s: the last load ended at %s; pulling from there to close the gap", platform_code, last)
        return last
    return since


def extract(platform_code: str, since: datetime, until: datetime) -> dict:
    from recruitment_month import config
    from recruitment_month.feeds import client

    platform = config.platform(platform_code)
    base_url, token = client.connection_for(platform)
    settings = client.ClientSettings.for_platform(platform, base_url=base_url, token=token)
    result = client.extract(settings, since, until, raw_dir())
    log.info(
        "%s: %d pages, %d items (%d unique, %d duplicates dropped), %d retries → %s",
        platform_code,
        result.pages,
        result.items_received,
        result.items_unique,
        result.duplicates_dropped,
        result.retries,
        result.raw_path,
    )
    return result.to_dict()  # XCom-sized: counters, the raw file, and the few ids seen twice


def load(extracted: dict, *, run_id: str | None = None) -> dict:
    from recruitment_month import config, warehouse
    from recruitment_month.feeds import client
    from recruitment_month.feeds import load as loader

    platform = config.platform(extracted["platform_code"])
    # One pass over the landed pages; items as their JSON texts, parsed only when not already held.
    items = client.ExtractResult.from_dict(extracted).iter_item_texts()
    report = loader.load(
        warehouse.engine(),
        platform,
        items,
        since=datetime.fromisoformat(extracted["since"]),
        until=datetime.fromisoformat(extracted["until"]),
    )
    return {
        **report.as_dict(),
        "pages": extracted["pages"],
        "duplicates_dropped": extracted["duplicates_dropped"],
    }


def link(loads: list[dict], *, full: bool = False) -> dict:
    """Fuzzy links (``feeds.linkage``) for the postings this run's loads touched, or every link (``full``)."""
    from recruitment_month import warehouse
    from recruitment_month.feeds import linkage

    load_ids = None if full else sorted({entry["load_id"] for entry in loads})
    return linkage.link(warehouse.engine(), load_ids).as_dict()


def report(loads: list[dict], *, run_id: str = "", links: dict | None = None) -> dict:
    """The run report: each platform's counts and duplicate rate (and what ``link`` did), in the log and
    in ``audit_load``."""
    from recruitment_month import warehouse
    from recruitment_month.feeds import load as loader
    from recruitment_month.schema import audit_load

    engine = warehouse.engine()
    rates = loader.duplicate_rates(engine)
    lines = [
        f"{'platform':14s} {'received':>9s} {'new':>7s} {'updated':>7s} {'unchanged':>9s} {'quarant.':>8s} {'dup. rate':>9s}"
    ]
    for entry in sorted(loads, key=lambda e: e["platform_code"]):
        rate = rates.get(entry["platform_code"], {}).get("rate", 0.0)
        lines.append(
            f"{entry['platform_code']:14s} {entry['received']:9d} {entry['new']:7d} {entry['updated']:7d} "
            f"{entry['unchanged']:9d} {entry['quarantined']:8d} {rate:9.1%}"
        )
    for entry in sorted(loads, key=lambda e: e["platform_code"]):
        for rule, count in (entry.get("problems_by_rule") or {}).items():
            samples = ", ".join(str(pid) for pid, _ in (entry.get("samples") or {}).get(rule, [])[:3])
            lines.append(f"{entry['platform_code']:14s} loaded with {rule}: {count} (e.g. {samples})")
    if links:
        lines.append(
            f"links ({'full rebuild' if links.get('full') else 'incremental'}): {links['postings']} postings "
            f"recomputed, {links['linked']} linked in {links['groups']} groups, {links['changed']} changed"
        )
    log.info("Job feeds run report:\n%s", "\n".join(lines))
    keys = ("received", "new", "updated", "unchanged", "quarantined")
    platforms = {
        e["platform_code"]: {
            **{k: e[k] for k in keys},
            "problems": e.get("problems_by_rule") or {},
            "duplicates": rates.get(e["platform_code"], {}),
        }
        for e in loads
    }
    with engine.begin() as conn:
        warehouse.upsert(
            conn,
            audit_load,
            [
                {
                    "load_key": f"job_feeds/report/{run_id}",
                    "dag_id": "job_feeds",
                    "task_id": "report",
                    "subject": "all platforms",
                    "interval_start": None,
                    "interval_end": None,
                    "counts": {"platforms": platforms, "links": links or {}},
                    "finished_at": datetime.now(UTC),
                }
            ],
            ["load_key"],
        )
    return {k: sum(e[k] for e in loads) for k in keys} | {"platforms": len(loads)}

"""``make demo``: the 2022 campaign on the embedded default, in one process, on a simulated clock.

The demo owns ``<data>/`` (inbox, archive, mail, warehouse.db) and starts from scratch each time. It
starts the local SMTP sink, migrates the warehouse and Airflow's metadata database, then walks the
campaign tick by tick (each Friday 17:00 deadline and each Monday 10:00 follow-up): the inbox receives
the files that landed up to the tick, and the DAGs run with ``dag.test()``. Task logs go to
``<data>/demo.log``; the screen shows one line per tick and a summary, and ``<data>/mail/index.html``
lists every email sent.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from pathlib import Path

from recruitment_devkit import environment

# Postings each simulated platform publishes over the two months of the campaign.
FEED_POSTINGS_PER_PLATFORM = 3000


@contextlib.contextmanager
def _quiet(logfile: Path):
    """Send everything written to stdout/stderr (Airflow's task logs) to ``logfile``."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with logfile.open("ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


@dataclass(frozen=True)
class Tick:
    at: datetime
    week: date
    deadline: bool  # the Friday 17:00 deadline: pull the feeds and freeze the preliminary summary


def _ticks(campaign) -> list[Tick]:
    """The moments the demo's clock stops at: every reminder step and the deadline of every week."""
    from recruitment_month import reminders

    return [Tick(step.at, step.week, step.kind == "deadline") for step in reminders.steps(campaign)]


def _reset(data: Path) -> None:
    for name in ("inbox", "archive", "mail"):
        shutil.rmtree(data / name, ignore_errors=True)
    for path in data.glob("warehouse.db*"):
        path.unlink()
    (data / "demo.log").unlink(missing_ok=True)


def write_mail_index(mail_dir: Path) -> Path:
    """``index.html``: every email sent, newest last, with a link to open the .eml file."""
    rows = []
    for path in sorted(mail_dir.glob("*.eml")):
        msg = message_from_bytes(path.read_bytes(), policy=policy.default)
        rows.append(
            "<tr><td>{n}</td><td>{to}</td><td><a href='{href}'>{subject}</a></td></tr>".format(
                n=html.escape(path.name.split("-", 1)[0]),
                to=html.escape(str(msg["To"])),
                href=html.escape(path.name),
                subject=html.escape(str(msg["Subject"])),
            )
        )
    page = (
        "<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'><title>Demo emails</title>"
        "<style>body{font-family:sans-serif;margin:24px}td,th{border-bottom:1px solid #ddd;padding:4px 8px;"
        "text-align:left}</style></head><body>"
        f"<h1>Emails sent by the demo ({len(rows)})</h1><table><tr><th>#</th><th>To</th><th>Subject</th></tr>"
        + "".join(rows)
        + "</table></body></html>"
    )
    index = mail_dir / "index.html"
    index.write_text(page, encoding="utf-8")
    return index


def main() -> None:
    environment.apply()
    from recruitment_devkit import demo_inbox as report_demo
    from recruitment_devkit.feed_simulator import FeedSimulator
    from recruitment_devkit.mailsink import MailSink
    from recruitment_month import config, warehouse
    from recruitment_month.reports import pipeline

    started = time.monotonic()
    data = Path(os.environ["RECRUITMENT_DATA_DIR"])
    _reset(data)
    inbox = Path(pipeline.inbox_url())
    log = data / "demo.log"
    campaign = config.campaign()
    print(f"Demo: {campaign.name}, {len(campaign.weeks)} weeks, data in {data} (task logs: {log})")

    with _quiet(log):
        subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True)
        warehouse.migrate()
        warehouse.load_reference_data()
    # Some reposts written as some platforms do (no credit code, no city, the place in the title), so that
    # the link step has something to find.
    simulator = FeedSimulator(postings_per_platform=FEED_POSTINGS_PER_PLATFORM, repost_variation=0.06)
    with MailSink(data / "mail", port=0) as sink, simulator:
        os.environ["AIRFLOW_CONN_SMTP_DEFAULT"] = json.dumps(sink.connection)
        for platform in config.platforms():
            os.environ[f"AIRFLOW_CONN_{platform.conn_id.upper()}"] = json.dumps(
                {"conn_type": "http", "host": simulator.base_url(platform.code), "password": simulator.token}
            )
        with _quiet(log):
            from airflow.dag_processing.dagbag import DagBag

            bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
        if bag.import_errors:
            raise SystemExit(f"DAG import errors: {bag.import_errors}")
        dags = bag.dags
        engine = warehouse.engine()
        pulled_until = datetime(2022, 11, 1, tzinfo=UTC)

        def run(dag_id: str, tick: Tick, **kwargs):
            with _quiet(log):
                result = dags[dag_id].test(**kwargs)
            if str(result.state) != "success":
                raise SystemExit(f"{dag_id} failed at {tick.at:%Y-%m-%d %H:%M} Beijing; see {log}")
            return result

        print(
            f"{'Beijing time':22s} {'files':>5s} {'ok':>4s} {'late':>4s} {'rej':>4s} {'postings':>8s} {'emails':>6s}  what ran"
        )
        for tick in _ticks(campaign):
            report_demo.generate_inbox(inbox, until=tick.at)
            sent_before = len(sink.files())
            ran = ["provincial_reports"]
            counts = _load_counts(engine, run("provincial_reports", tick, logical_date=tick.at).run_id)
            postings = ""
            if tick.deadline:
                run(
                    "job_feeds",
                    tick,
                    logical_date=tick.at,
                    run_conf={"since": pulled_until.isoformat(), "until": tick.at.isoformat()},
                )
                postings = f"{_new_postings(engine, tick.at):,}"
                pulled_until = tick.at
                ran.append("job_feeds")
            if tick.deadline or counts.get("accepted"):
                run("friday_consolidation", tick, logical_date=tick.at)
                ran.append("friday_consolidation")
            run("report_reminders", tick, logical_date=tick.at)
            ran.append("report_reminders")
            print(
                f"{tick.at:%a %Y-%m-%d %H:%M}   {counts.get('processed', 0):5d} {counts.get('accepted', 0):4d} "
                f"{counts.get('late', 0):4d} {counts.get('rejected', 0):4d} {postings:>8s} "
                f"{len(sink.files()) - sent_before:6d}  {', '.join(ran)}"
            )
        _summary(engine, campaign, sink, data, time.monotonic() - started)


def _new_postings(engine, until: datetime) -> int:
    from sqlalchemy import select

    from recruitment_month.schema import audit_load

    with engine.connect() as conn:
        rows = conn.execute(
            select(audit_load.c.counts).where(
                audit_load.c.dag_id == "job_feeds", audit_load.c.interval_end == until
            )
        ).scalars()
        return sum(int(c.get("new", 0)) for c in rows)


def _load_counts(engine, run_id: str) -> dict:
    from sqlalchemy import select

    from recruitment_month.schema import audit_load

    with engine.connect() as conn:
        counts = conn.execute(
            select(audit_load.c.counts).where(audit_load.c.load_key == f"provincial_reports/{run_id}")
        ).scalar_one_or_none()
    return counts or {}


def closing_table(campaign, weeks: dict, current: list[dict]) -> str:
    """Each week's units by status (the product's status rule) and its reported positions."""
    from recruitment_month import status

    lines = ["Week ending   on time  late  rejected  missing   positions (week)"]
    for week in campaign.weeks:
        counts = Counter(w.status for w in weeks[week].values())
        positions = sum(r["positions"] for r in current if r["week_ending"] == week)
        lines.append(
            f"{week}    {counts[status.ON_TIME]:5d} {counts[status.LATE]:5d} {counts[status.REJECTED]:9d} "
            f"{counts[status.MISSING]:8d}   {positions:14,d}"
        )
    return "\n".join(lines)


def _summary(engine, campaign, sink, data: Path, seconds: float) -> None:
    from sqlalchemy import func, select

    from recruitment_month import config, status
    from recruitment_month.reports.pipeline import current_reports
    from recruitment_month.schema import (
        audit_inbox_file,
        audit_notification,
        core_posting,
        mart_weekly_summary,
    )

    with engine.connect() as conn:
        versions = Counter(conn.execute(select(mart_weekly_summary.c.kind)).scalars())
        postings = conn.execute(select(func.count()).select_from(core_posting)).scalar_one()
        current = current_reports(conn, campaign.weeks[0], campaign.weeks[-1])
        codes = [u.code for u in config.units().units]
        end = datetime.now(UTC)
        weeks = {week: status.week_statuses(conn, campaign, week, end, codes) for week in campaign.weeks}
        files = Counter(conn.execute(select(audit_inbox_file.c.status)).scalars())
        ledger = Counter(
            conn.execute(
                select(audit_notification.c.kind, func.count()).group_by(audit_notification.c.kind)
            ).all()
        )
    print()
    print(closing_table(campaign, weeks, current))
    print()
    print(f"Report files: {dict(files)}")
    print(f"Summaries: {dict(versions)}; job postings in the warehouse: {postings:,}")
    print("Emails: " + ", ".join(f"{kind} {count}" for (kind, count), _ in sorted(ledger.items())))
    print(f"Mailbox: {write_mail_index(sink.directory)}  ({len(sink.files())} messages)")
    print(f"Warehouse: {data / 'warehouse.db'}")
    print(f"Done in {seconds:.0f} s.")


if __name__ == "__main__":
    main()

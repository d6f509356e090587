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
from datetime import datetime, timedelta
from datetime import time as clock
from email import message_from_bytes, policy
from pathlib import Path

from recruitment_month import environment


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


def _ticks(campaign) -> list[datetime]:
    """The moments the demo looks at the inbox: each deadline, and the Monday after it."""
    ticks = []
    for week in campaign.weeks:
        deadline = campaign.deadline(week)
        ticks.append(deadline)
        ticks.append(datetime.combine(week + timedelta(days=3), clock(10, 0), campaign.tz))
    return ticks


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
    from recruitment_month import config, warehouse
    from recruitment_month.mailsink import MailSink
    from recruitment_month.reports import demo as report_demo
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
    with MailSink(data / "mail", port=0) as sink:
        os.environ["AIRFLOW_CONN_SMTP_DEFAULT"] = json.dumps(sink.connection)
        with _quiet(log):
            from airflow.dag_processing.dagbag import DagBag

            bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
        if bag.import_errors:
            raise SystemExit(f"DAG import errors: {bag.import_errors}")
        reports_dag = bag.dags["provincial_reports"]
        engine = warehouse.engine()
        for tick in _ticks(campaign):
            report_demo.generate_inbox(inbox, until=tick)
            sent_before = len(sink.files())
            with _quiet(log):
                run = reports_dag.test()
            if str(run.state) != "success":
                raise SystemExit(f"provincial_reports failed at {tick:%Y-%m-%d %H:%M}; see {log}")
            counts = _load_counts(engine, run.run_id)
            print(
                f"  {tick:%a %Y-%m-%d %H:%M} Beijing: {counts.get('processed', 0):3d} files processed, "
                f"{counts.get('accepted', 0):3d} accepted ({counts.get('late', 0)} late), "
                f"{counts.get('rejected', 0):2d} rejected, {len(sink.files()) - sent_before:3d} emails"
            )
        _summary(engine, campaign, sink, data, time.monotonic() - started)


def _load_counts(engine, run_id: str) -> dict:
    from sqlalchemy import select

    from recruitment_month.schema import audit_load

    with engine.connect() as conn:
        counts = conn.execute(
            select(audit_load.c.counts).where(audit_load.c.load_key == f"provincial_reports/{run_id}")
        ).scalar_one_or_none()
    return counts or {}


def _summary(engine, campaign, sink, data: Path, seconds: float) -> None:
    from sqlalchemy import func, select

    from recruitment_month.reports.pipeline import current_reports
    from recruitment_month.schema import audit_inbox_file, audit_notification

    with engine.connect() as conn:
        current = current_reports(conn, campaign.weeks[0], campaign.weeks[-1])
        files = Counter(conn.execute(select(audit_inbox_file.c.status)).scalars())
        ledger = Counter(
            conn.execute(
                select(audit_notification.c.kind, func.count()).group_by(audit_notification.c.kind)
            ).all()
        )
    expected = 32
    print()
    print("Week ending   on time  late  missing   positions (week)")
    for week in campaign.weeks:
        rows = [r for r in current if r["week_ending"] == week]
        on_time = sum(r["timeliness"] == "on_time" for r in rows)
        late = len(rows) - on_time
        print(
            f"{week}    {on_time:5d} {late:5d} {expected - len(rows):8d}   {sum(r['positions'] for r in rows):14,d}"
        )
    print()
    print(f"Files: {dict(files)}")
    print("Emails: " + ", ".join(f"{kind} {count}" for (kind, count), _ in ledger.items()))
    print(f"Mailbox: {write_mail_index(sink.directory)}  ({len(sink.files())} messages)")
    print(f"Warehouse: {data / 'warehouse.db'}")
    print("Not built yet: job feeds (issue 4), Friday summary and reminders (issue 5).")
    print(f"Done in {seconds:.0f} s.")


if __name__ == "__main__":
    main()

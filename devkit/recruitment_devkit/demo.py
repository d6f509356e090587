"""``make demo``: the 2022 campaign on the embedded default, in one process, on a simulated clock.

The demo owns ``<data>/`` (inbox, archive, mail, warehouse.db) and starts from scratch each time. It
starts the local SMTP sink, migrates the warehouse and Airflow's metadata database, then walks the
campaign tick by tick (each Friday 17:00 deadline and each Monday 10:00 follow-up): the inbox receives
the files that landed up to the tick, and the DAGs run with ``dag.test()``. Task logs go to
``<data>/demo.log``; the screen shows one line per tick and a summary, and ``<data>/mail/index.html``
lists every email sent.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from recruitment_devkit import environment

# Postings each simulated platform publishes over the two months of the campaign. A week's summary
# counts the postings posted that week and delivered by its deadline (about one in eight of them: a
# posting is often last modified weeks after it was posted), ~1,000 distinct postings with ~50 openings
# each against the ~1.4 million positions the provinces report: the feeds show a few percent of them,
# each province in proportion to its size (``unit_sizes``), as the cross-check expects.
FEED_POSTINGS_PER_PLATFORM = 6000
# Some reposts written as some platforms do (no credit code, no city, the place in the title), so that
# the link step has something to find.
FEED_REPOST_VARIATION = 0.06


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
    final: bool = False  # the campaign's final report is due: the last digests and the 总结 go out


def _ticks(campaign) -> list[Tick]:
    """The moments the demo's clock stops at: every reminder step, the deadline of every week, and the
    time of the campaign's final report (after the last week's follow-ups)."""
    from recruitment_month import reminders

    ticks = [Tick(step.at, step.week, step.kind == "deadline") for step in reminders.steps(campaign)]
    return [*ticks, Tick(campaign.final_report_at, campaign.weeks[-1], deadline=False, final=True)]


def demo_feeds(repost_variation: float = FEED_REPOST_VARIATION):
    """The demo's feed simulator (not started): every platform at the demo's volume."""
    from recruitment_devkit.feed_simulator import FeedSimulator

    return FeedSimulator(postings_per_platform=FEED_POSTINGS_PER_PLATFORM, repost_variation=repost_variation)


def _reset(data: Path) -> None:
    for name in ("inbox", "archive", "mail"):
        shutil.rmtree(data / name, ignore_errors=True)
    for path in data.glob("warehouse.db*"):
        path.unlink()
    (data / "demo.log").unlink(missing_ok=True)


def write_mail_index(mail_dir: Path) -> Path:
    """``index.html``: every email sent, the summaries first, by simulated time and kind, each opening as
    HTML in the browser (the mail sink's :func:`~recruitment_devkit.mailsink.write_index`)."""
    from recruitment_devkit.mailsink import write_index
    from recruitment_month import config

    return write_index(mail_dir, config.campaign().tz)


@dataclass
class _Walk:
    """What the walk through the campaign needs at each tick."""

    dags: dict
    engine: object
    sink: object
    log: Path
    inbox: Path
    pulled_until: datetime = datetime(2022, 11, 1, tzinfo=UTC)

    def run(self, dag_id: str, tick: Tick, **kwargs):
        with _quiet(self.log):
            result = self.dags[dag_id].test(**kwargs)
        if str(result.state) != "success":
            raise SystemExit(f"{dag_id} failed at {tick.at:%Y-%m-%d %H:%M} Beijing; see {self.log}")
        return result

    def pull_feeds(self, tick: Tick) -> str:
        conf = {"since": self.pulled_until.isoformat(), "until": tick.at.isoformat()}
        self.run("job_feeds", tick, logical_date=tick.at, run_conf=conf)
        self.pulled_until = tick.at
        return f"{_new_postings(self.engine, tick.at):,}"

    def step(self, tick: Tick) -> str:
        """Run the DAGs due at ``tick``; the screen's line for it."""
        from recruitment_devkit import demo_inbox

        demo_inbox.generate_inbox(self.inbox, until=tick.at)
        sent_before = len(self.sink.files())
        ran = ["provincial_reports"]
        counts = _load_counts(self.engine, self.run("provincial_reports", tick, logical_date=tick.at).run_id)
        postings = ""
        if tick.deadline:
            postings = self.pull_feeds(tick)
            ran.append("job_feeds")
        if tick.deadline or tick.final or counts.get("accepted"):
            self.run("friday_consolidation", tick, logical_date=tick.at)
            ran.append("friday_consolidation")
        self.run("report_reminders", tick, logical_date=tick.at)
        ran.append("report_reminders")
        return (
            f"{tick.at:%a %Y-%m-%d %H:%M}   {counts.get('processed', 0):5d} {counts.get('accepted', 0):4d} "
            f"{counts.get('late', 0):4d} {counts.get('rejected', 0):4d} {postings:>8s} "
            f"{len(self.sink.files()) - sent_before:6d}  {', '.join(ran)}"
        )


def _connect(sink, simulator) -> None:
    """Point Airflow's connections at the mail sink and the simulator."""
    from recruitment_month import config

    os.environ["AIRFLOW_CONN_SMTP_DEFAULT"] = json.dumps(sink.connection)
    for platform in config.platforms():
        os.environ[f"AIRFLOW_CONN_{platform.conn_id.upper()}"] = json.dumps(
            {"conn_type": "http", "host": simulator.base_url(platform.code), "password": simulator.token}
        )


def _dags(log: Path) -> dict:
    with _quiet(log):
        from airflow.dag_processing.dagbag import DagBag

        bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    if bag.import_errors:
        raise SystemExit(f"DAG import errors: {bag.import_errors}")
    return bag.dags


def run_demo(weeks: int | None = None) -> Path:
    """The campaign's first ``weeks`` weeks (default: all) in ``RECRUITMENT_DATA_DIR``, from scratch;
    returns the mail index."""
    environment.apply()
    from recruitment_devkit.mailsink import MailSink
    from recruitment_month import config, warehouse
    from recruitment_month.reports import pipeline

    started = time.monotonic()
    data = Path(os.environ["RECRUITMENT_DATA_DIR"])
    _reset(data)
    log = data / "demo.log"
    campaign = config.campaign()
    chosen = campaign.weeks[:weeks] if weeks else campaign.weeks
    print(f"Demo: {campaign.name}, {len(chosen)} weeks, data in {data} (task logs: {log})")

    with _quiet(log):
        subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True)
        warehouse.migrate()
        warehouse.load_reference_data()
    with MailSink(data / "mail", port=0) as sink, demo_feeds() as simulator:
        _connect(sink, simulator)
        walk = _Walk(_dags(log), warehouse.engine(), sink, log, Path(pipeline.inbox_url()))
        print(
            f"{'Beijing time':22s} {'files':>5s} {'ok':>4s} {'late':>4s} {'rej':>4s} {'postings':>8s} {'emails':>6s}  what ran"
        )
        for tick in _ticks(campaign):
            if tick.week in chosen and (not tick.final or chosen == campaign.weeks):
                print(walk.step(tick), flush=True)
        return _summary(walk.engine, chosen, sink, data, time.monotonic() - started)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m recruitment_devkit.demo", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--weeks", type=int, help="only the campaign's first N weeks (default: all)")
    args = parser.parse_args(argv)
    run_demo(args.weeks)


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
    """Each week of ``weeks`` (week → unit → status): its units by status (the product's status rule)
    and its reported positions."""
    from recruitment_month import status

    lines = ["Week ending   on time  late  rejected  missing   positions (week)"]
    for week in weeks:
        counts = Counter(w.status for w in weeks[week].values())
        positions = sum(r["positions"] for r in current if r["week_ending"] == week)
        lines.append(
            f"{week}    {counts[status.ON_TIME]:5d} {counts[status.LATE]:5d} {counts[status.REJECTED]:9d} "
            f"{counts[status.MISSING]:8d}   {positions:14,d}"
        )
    return "\n".join(lines)


def _summary(engine, weeks: list[date], sink, data: Path, seconds: float) -> Path:
    from sqlalchemy import func, select

    from recruitment_month import config, status
    from recruitment_month.reports.pipeline import current_reports

    campaign = config.campaign()
    from recruitment_month.schema import (
        audit_inbox_file,
        audit_notification,
        core_posting,
        mart_weekly_summary,
    )

    with engine.connect() as conn:
        versions = Counter(conn.execute(select(mart_weekly_summary.c.kind)).scalars())
        postings = conn.execute(select(func.count()).select_from(core_posting)).scalar_one()
        current = current_reports(conn, weeks[0], weeks[-1])
        codes = [u.code for u in config.units().units]
        end = datetime.now(UTC)
        statuses = {week: status.week_statuses(conn, campaign, week, end, codes) for week in weeks}
        files = Counter(conn.execute(select(audit_inbox_file.c.status)).scalars())
        ledger = Counter(
            conn.execute(
                select(audit_notification.c.kind, func.count()).group_by(audit_notification.c.kind)
            ).all()
        )
    print()
    print(closing_table(campaign, statuses, current))
    print()
    print(f"Report files: {dict(files)}")
    print(f"Summaries: {dict(versions)}; job postings in the warehouse: {postings:,}")
    print("Emails: " + ", ".join(f"{kind} {count}" for (kind, count), _ in sorted(ledger.items())))
    index = write_mail_index(sink.directory)
    print(f"Mailbox: {index}  ({len(sink.files())} messages)")
    print(f"Warehouse: {data / 'warehouse.db'}")
    print(f"Done in {seconds:.0f} s.")
    return index


if __name__ == "__main__":
    main()

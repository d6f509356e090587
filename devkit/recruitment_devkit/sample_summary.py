"""Sample national summaries computed by the product's own pipeline, for previews and tests.

Nothing here writes a summary by hand. :func:`build` replays the first weeks of the 2022 campaign on a
fresh SQLite warehouse in a folder of its own, the way ``make demo`` does, but in-process and without
Airflow's scheduler: at each reminder step and deadline the dev kit's demo inbox receives the report
files landed by then (on time, late, missing, rejected then corrected, revised), the product's report
pipeline collects, validates and loads them; at each deadline the product's feed extract, load and link
pull the simulator's postings; and ``summary.pipeline.consolidate`` writes whatever version is due.
So week 2 has its preliminary version at the deadline and a genuine revision (version 2) when the
reports that were late or rejected at the deadline came in on Saturday.

Preview the summary email of a sample week (the ``.eml``, an ``.html`` with the images inlined, the
``.txt`` and the ``.xlsx``)::

    python -m recruitment_devkit.sample_summary OUT_DIR [--week 2] [--version 1] [--replay DIR]

``--replay DIR`` keeps the replay's warehouse in ``DIR`` (and reuses the one already there).

No Airflow scheduler, no SMTP: the summaries' emails stay in the sample warehouse's outbox.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from recruitment_devkit.demo_inbox import DemoManifest
    from recruitment_month.summary.model import WeeklySummary

# Two weeks: the second has a previous week to compare with and a revision when its stragglers arrive.
SAMPLE_WEEKS = 2
# Where a sample summary's "data docs" link points (the sample folder is gone when it is read).
DATA_DOCS_URL = "https://pipeline.example.org/data-docs/index.html"


@dataclass(frozen=True)
class SampleRun:
    """The warehouse a sample replay left, and its summaries."""

    directory: Path
    url: str
    manifest: DemoManifest  # what the inbox received: every unit's files, when they landed, what they hold
    weeks: tuple[date, ...]

    def engine(self) -> Engine:
        from recruitment_month import warehouse

        return warehouse.engine(self.url)

    def versions(self) -> list[dict]:
        """[{week_ending, version, kind}] of every version consolidated, oldest first."""
        from recruitment_month.summary import pipeline

        return pipeline.all_versions(self.engine())

    def summary(self, week_number: int, version: int = 1) -> WeeklySummary:
        """Version ``version`` of week ``week_number`` (1-based) as the mart keeps it."""
        from recruitment_month.summary import pipeline

        if not 1 <= week_number <= len(self.weeks):
            raise ValueError(f"the sample has weeks 1 to {len(self.weeks)}, not {week_number}")
        return pipeline.load_summary(self.engine(), self.weeks[week_number - 1], version)


@dataclass(frozen=True)
class _Tick:
    at: datetime
    deadline: bool


@contextlib.contextmanager
def _environment(directory: Path, url: str, simulator) -> Iterator[None]:
    """Point the product at the sample's folder, warehouse and feeds; restore the environment after."""
    from recruitment_month import config

    values = {
        "RECRUITMENT_DATA_DIR": str(directory / "data"),
        "RECRUITMENT_INBOX": str(directory / "data" / "inbox"),
        "RECRUITMENT_ARCHIVE": str(directory / "data" / "archive" / "reports"),
        "RECRUITMENT_RAW_FEEDS": str(directory / "data" / "raw" / "feeds"),
        "RECRUITMENT_DATA_DOCS_URL": DATA_DOCS_URL,
        "AIRFLOW_CONN_WAREHOUSE": json.dumps({"conn_type": "sqlite", "host": url.removeprefix("sqlite:///")}),
    }
    for platform in config.platforms():
        values[f"AIRFLOW_CONN_{platform.conn_id.upper()}"] = json.dumps(
            {"conn_type": "http", "host": simulator.base_url(platform.code), "password": simulator.token}
        )
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _ticks(weeks: tuple[date, ...]) -> list[_Tick]:
    """Each week's deadline, then the last week's first follow-up (Saturday 10:00), by when most of its
    stragglers are in. Fewer stops than the demo's (every reminder step), the same outcome: a file's
    landing time, not the poll, decides on time or late."""
    from recruitment_month import config, reminders

    campaign = config.campaign()
    ticks = [_Tick(campaign.deadline(week), deadline=True) for week in weeks]
    follow_up = next(s for s in reminders.steps(campaign) if s.week == weeks[-1] and s.kind == "follow_up")
    return [*ticks, _Tick(follow_up.at, deadline=False)]


def _pull_feeds(since: datetime, until: datetime, run_id: str) -> None:
    """What a job_feeds run does for the window: extract and load every platform, then link."""
    from recruitment_month import config
    from recruitment_month.feeds import pipeline

    loads = [pipeline.load(pipeline.extract(p.code, since, until), run_id=run_id) for p in config.platforms()]
    pipeline.report(loads, run_id=run_id, links=pipeline.link(loads))


def _replay(engine: Engine, inbox: Path, weeks: tuple[date, ...], seed: int) -> DemoManifest:
    from recruitment_devkit import demo_inbox
    from recruitment_month import config
    from recruitment_month.reports import pipeline as reports
    from recruitment_month.summary import pipeline as summary

    manifest = None
    # The feeds from the first reporting week's Saturday: a posting counts for the week it was posted in,
    # and no posting is modified before it is posted, so nothing earlier could count.
    campaign = config.campaign()
    pulled_until = datetime.combine(weeks[0] - timedelta(days=6), time(0), campaign.tz)
    for tick in _ticks(weeks):
        run_id = f"sample__{tick.at.astimezone(UTC).isoformat()}"
        manifest = demo_inbox.generate_inbox(inbox, seed=seed, weeks=weeks, until=tick.at)
        reports.collect(engine, run_id=run_id, polled_at=tick.at)
        reports.run_process(engine, run_id=run_id)
        if tick.deadline:
            _pull_feeds(pulled_until, tick.at, run_id)
            pulled_until = tick.at
        summary.consolidate(engine, tick.at)
    return manifest


def build(directory: str | Path, *, weeks: int = SAMPLE_WEEKS, seed: int = 2022) -> SampleRun:
    """Replay the campaign's first ``weeks`` weeks into a new warehouse in ``directory``."""
    from recruitment_devkit.demo import demo_feeds
    from recruitment_month import config, warehouse

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{directory / 'warehouse.db'}"
    chosen = tuple(config.campaign().weeks[:weeks])
    if len(chosen) != weeks or weeks < 1:
        raise ValueError(f"the campaign has {len(config.campaign().weeks)} weeks; asked for {weeks}")
    warehouse.migrate(url)
    warehouse.load_reference_data(url)
    with demo_feeds() as simulator, _environment(directory, url, simulator):
        manifest = _replay(warehouse.engine(url), directory / "data" / "inbox", chosen, seed)
    return SampleRun(directory, url, manifest, chosen)


def open_run(directory: str | Path, *, weeks: int = SAMPLE_WEEKS, seed: int = 2022) -> SampleRun:
    """The replay already in ``directory`` (from :func:`build` with the same arguments), or a new one."""
    from recruitment_devkit import demo_inbox
    from recruitment_month import config

    directory = Path(directory)
    if not (directory / "warehouse.db").exists():
        return build(directory, weeks=weeks, seed=seed)
    chosen = tuple(config.campaign().weeks[:weeks])
    manifest = demo_inbox.plan_campaign(seed)
    manifest.reports = [r for r in manifest.reports if r.week_ending in chosen]
    return SampleRun(directory, f"sqlite:///{directory / 'warehouse.db'}", manifest, chosen)


def sample_summary(week_number: int = SAMPLE_WEEKS, version: int = 1) -> WeeklySummary:
    """Version ``version`` of week ``week_number``, from a replay in a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="sample-summary-") as folder:
        run = build(folder, weeks=max(week_number, 1))
        return run.summary(week_number, version)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m recruitment_devkit.sample_summary",
        description="Replay the first weeks of the demo campaign through the pipeline and render a "
        "week's national summary email for preview.",
    )
    parser.add_argument("out_dir", metavar="OUT_DIR", help="folder for the .eml, .html, .txt and .xlsx")
    parser.add_argument(
        "--week", type=int, default=SAMPLE_WEEKS, help=f"week number (default {SAMPLE_WEEKS})"
    )
    parser.add_argument("--version", type=int, default=1, help="1 = preliminary, 2.. = revised (default 1)")
    parser.add_argument("--replay", type=Path, help="keep the replay here (reuse the one already here)")
    args = parser.parse_args(argv)
    if args.week < 1:
        parser.error("--week counts from 1")

    import logging

    from recruitment_month.summary.render import render_summary, write_outputs

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    with contextlib.ExitStack() as stack:
        folder = args.replay or stack.enter_context(tempfile.TemporaryDirectory(prefix="sample-summary-"))
        run = open_run(folder, weeks=max(args.week, SAMPLE_WEEKS))
        known = [
            v["version"] for v in run.versions() if v["week_ending"] == run.weeks[args.week - 1].isoformat()
        ]
        if args.version not in known:
            parser.error(f"week {args.week} has versions {known}")
        mail = render_summary(run.summary(args.week, args.version))
    for kind, path in write_outputs(mail, args.out_dir).items():
        print(f"{kind:5} {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The campaign's first weeks replayed in one process, for tests that need a warehouse as the DAGs
leave it: the demo's inbox fed tick by tick (every reminder step and deadline), and at each tick what
the DAGs run — collect and process the inbox, consolidate (the preliminary summary at the deadline, a
revision after a late report), remind. Mail goes to whatever ``smtp_default`` points at."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path


def replay(engine, inbox: Path, *, weeks: int, until: datetime | None = None):
    """Replay the first ``weeks`` weeks (up to ``until``, when given); returns the demo's manifest and
    the moment of the last tick."""
    from airflow.sdk.execution_time.context import set_current_context

    from recruitment_devkit.demo_inbox import generate_inbox
    from recruitment_month import config, reminders
    from recruitment_month.reports import pipeline as reports
    from recruitment_month.summary import pipeline as summary

    campaign = config.campaign()
    chosen = campaign.weeks[:weeks]
    manifest = tick = None
    for n, step in enumerate(s for s in reminders.steps(campaign) if s.week <= chosen[-1]):
        if until is not None and step.at > until:
            break
        tick = step.at
        manifest = generate_inbox(inbox, weeks=chosen, until=tick)
        with set_current_context({"logical_date": tick}):
            reports.catch_up(engine, run_id=f"replay-{n}")
        summary.consolidate(engine, tick)
        summary.deliver(engine)
        reminders.run(engine, tick)
    return manifest, tick

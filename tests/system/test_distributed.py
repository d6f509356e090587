"""The production shape for real, on this machine: Airflow's API server, scheduler, DAG processor,
triggerer and two Celery workers as separate processes, PostgreSQL and Redis (docs/development.md).

Runs ``recruitment_devkit.distributed`` (the code behind ``make distributed-demo``) for one campaign
week and checks what it reports, then that nothing of it is left: no process, no database, no broker
data. Selected with ``-m distributed``; PostgreSQL or Redis missing is a failure, never a skip.
"""

from __future__ import annotations

import subprocess

import pytest

from recruitment_devkit import distributed

pytestmark = [pytest.mark.distributed, pytest.mark.timeout(1200)]


def _live_sessions(sessions: list[int]) -> list[str]:
    out = subprocess.run(["ps", "-eo", "pid=,sid=,stat=,args="], capture_output=True, text=True, check=True)
    left = []
    for line in out.stdout.splitlines():
        pid, sid, stat, *args = line.split(None, 3)
        if int(sid) in sessions and not stat.startswith("Z"):
            left.append(f"{pid} {' '.join(args)}")
    return left


def test_one_week_runs_on_a_distributed_airflow(tmp_path):
    options = distributed.Options(workdir=tmp_path / "run")
    problems = distributed.preflight(options)
    assert not problems, "; ".join(problems)

    report = distributed.run(options)
    summary = report.render()
    print(summary)
    assert report.failures == [], summary

    # every DAG ran to success through the scheduler and the Celery workers
    assert [(r.dag_id, r.state) for r in report.runs] == [
        (dag_id, "success") for dag_id in distributed.DAG_IDS
    ], summary
    # task instances ran on both workers, and only there (each records the name of its worker)
    workers = set(report.worker_names.values())
    assert len(workers) == 2
    assert set(report.tasks_per_worker) == workers, summary
    assert all(count > 0 for count in report.tasks_per_worker.values()), summary
    assert sum(report.tasks_per_worker.values()) == sum(r.tasks for r in report.runs)
    job_feeds = next(r for r in report.runs if r.dag_id == "job_feeds")
    assert job_feeds.tasks == 3 + 2 * 12  # platforms, 12 extract, 12 load, link, report

    # the warehouse and the mailbox: every check ran and passed
    names = {c.name for c in report.checks}
    assert {
        "core_report holds the week's accepted reports",
        "core_posting holds the simulator's postings of the window",
        "mart_weekly_summary has the week's preliminary summary",
        "the mailbox has the receipts, the summary and the reminders",
        "the notification ledger has every message sent",
    } <= names
    assert all(c.ok for c in report.checks), summary
    assert report.emails == report.expected_emails
    assert report.emails["weekly_summary"] == 1
    assert report.emails["receipt"] > 0
    assert report.emails["reminder"] > 0
    assert report.warehouse["core_posting"] > 0

    # everything started is stopped, the databases are dropped, the broker database is flushed
    assert set(report.stopped) == {
        "api-server",
        "scheduler",
        "dag-processor",
        "triggerer",
        "worker-w1",
        "worker-w2",
    }
    assert len(report.sessions) == 6
    assert report.leftover_processes == []
    assert _live_sessions(report.sessions) == []
    assert report.cleanup_errors == []
    _assert_dropped(options, report)
    assert not (tmp_path / "run").exists(), "the workdir of a successful run is removed"


def _assert_dropped(options: distributed.Options, report: distributed.Report) -> None:
    import psycopg
    import redis

    pg = distributed._parse_postgres(options.postgres)
    with psycopg.connect(**{k: v for k, v in pg.items() if v is not None}) as conn:
        left = conn.execute(
            "SELECT datname FROM pg_database WHERE datname = ANY(%s)",
            ([report.metadata_db, report.warehouse_db],),
        ).fetchall()
    assert left == []
    client = redis.Redis.from_url(f"{options.redis}/{report.redis_db}")
    try:
        owner = client.get(distributed.REDIS_CLAIM_KEY)
        assert owner is None or owner.decode() != report.token
        if owner is None:
            assert client.dbsize() == 0
    finally:
        client.close()

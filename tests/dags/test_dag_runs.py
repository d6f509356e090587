"""Whole DAGs under dag.test(): as the scheduler would run them, against real servers."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from recruitment_devkit.feed_simulator import FeedSimulator
from recruitment_month import config, schema, warehouse

DAGS = Path(__file__).resolve().parents[2] / "dags"
CAMPAIGN = config.campaign()
WEEK1 = CAMPAIGN.weeks[0]


@pytest.fixture(scope="module")
def dags(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS))
    assert not bag.import_errors
    return bag.dags


@pytest.fixture
def env(warehouse_url, mail_sink, tmp_path, monkeypatch):
    monkeypatch.setenv("RECRUITMENT_INBOX", str(tmp_path / "inbox"))
    monkeypatch.setenv("RECRUITMENT_ARCHIVE", str(tmp_path / "archive"))
    monkeypatch.setenv("RECRUITMENT_RAW_FEEDS", str(tmp_path / "raw"))
    return {"engine": warehouse.engine(warehouse_url), "sink": mail_sink, "tmp": tmp_path}


def _count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def _put(tmp: Path, unit: str, name: str, week, landed: datetime) -> None:
    from recruitment_month.reports.fields import COUNT_KEYS, cumulative_key

    record = {
        "unit_code": unit,
        "week_ending": week.isoformat(),
        "contact_name": "张老师",
        "contact_phone": "1",
    }
    for key in COUNT_KEYS:
        record[key] = record[cumulative_key(key)] = 50
    path = tmp / "inbox" / unit / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record), encoding="utf-8")
    os.utime(path, (landed.timestamp(), landed.timestamp()))


def test_provincial_reports_runs_and_reruns(dags, env):
    _put(env["tmp"], "110000", "a.json", WEEK1, CAMPAIGN.deadline(WEEK1) - timedelta(hours=1))
    first = dags["provincial_reports"].test()
    assert str(first.state) == "success"
    assert _count(env["engine"], schema.core_report) == 1
    mails = len(env["sink"].files())
    again = dags["provincial_reports"].test()
    assert str(again.state) == "success"
    assert _count(env["engine"], schema.core_report) == 1
    assert len(env["sink"].files()) == mails


def test_a_replay_of_past_weeks_polls_at_each_runs_logical_date(dags, env):
    """As the demo replays the campaign: each run's poll stands at its logical date, so a file placed
    between two runs with a time between them lands at that time (on time), not at the wall clock."""
    deadline = CAMPAIGN.deadline(WEEK1)
    _put(env["tmp"], "110000", "a.json", WEEK1, deadline - timedelta(hours=3))
    first = dags["provincial_reports"].test(logical_date=deadline - timedelta(hours=2))
    _put(env["tmp"], "120000", "b.json", WEEK1, deadline - timedelta(hours=1))
    second = dags["provincial_reports"].test(logical_date=deadline - timedelta(minutes=30))
    assert str(first.state) == str(second.state) == "success"
    with env["engine"].connect() as conn:
        polls = conn.execute(
            select(schema.audit_inbox_poll.c.polled_at).order_by(schema.audit_inbox_poll.c.poll_id)
        ).scalars()
        assert list(polls) == [deadline - timedelta(hours=2), deadline - timedelta(minutes=30)]
        reports = conn.execute(select(schema.core_report.c.unit_code, schema.core_report.c.timeliness)).all()
    assert sorted(reports) == [("110000", "on_time"), ("120000", "on_time")]


def test_job_feeds_survives_faults_and_reruns_to_the_same_warehouse(dags, env, monkeypatch):
    since, until = datetime(2022, 11, 1, tzinfo=UTC), datetime(2022, 11, 8, tzinfo=UTC)
    with FeedSimulator(postings_per_platform=300, seed=11) as sim:
        for platform in config.platforms():
            monkeypatch.setenv(
                f"AIRFLOW_CONN_{platform.conn_id.upper()}",
                json.dumps({"conn_type": "http", "host": sim.base_url(platform.code), "password": sim.token}),
            )
        sim.set_fault("zhilian", "http_500", times=2)
        sim.set_fault("lagou", "rate_limit_429", times=1, retry_after=1)
        sim.set_fault("liepin", "repeat_page", page=1)
        sim.set_fault("qiancheng", "html_error_200", times=1)
        conf = {"since": since.isoformat(), "until": until.isoformat()}
        run = dags["job_feeds"].test(run_conf=conf)
        assert str(run.state) == "success"
        engine = env["engine"]
        expected = {
            (p.code, e["posting_id"])
            for p in config.platforms()
            for e in sim.expected_postings(p.code, since, until)
            if e["defect"] != "missing_title"
        }
        with engine.connect() as conn:
            loaded = set(
                conn.execute(
                    select(schema.core_posting.c.platform_code, schema.core_posting.c.posting_id)
                ).all()
            )
            before = sorted(conn.execute(select(schema.core_posting)).all())
        assert loaded == expected
        raw = list((env["tmp"] / "raw").rglob("*.jsonl.gz"))
        assert len(raw) == len(config.platforms())
        with engine.connect() as conn:
            (report,) = conn.execute(
                select(schema.audit_load.c.counts).where(schema.audit_load.c.task_id == "report")
            ).scalars()
        assert set(report["platforms"]) == {p.code for p in config.platforms()}
        assert all(
            0 < p["duplicates"]["rate"] < 1 and p["received"] > 0 for p in report["platforms"].values()
        )
        sim.clear_faults()
        again = dags["job_feeds"].test(run_conf=conf)
        assert str(again.state) == "success"
        with engine.connect() as conn:
            assert sorted(conn.execute(select(schema.core_posting)).all()) == before


def test_consolidation_and_reminders_for_a_week(dags, env):
    _put(env["tmp"], "110000", "a.json", WEEK1, CAMPAIGN.deadline(WEEK1) - timedelta(hours=2))
    deadline = CAMPAIGN.deadline(WEEK1)
    run = dags["friday_consolidation"].test(logical_date=deadline)
    assert str(run.state) == "success"
    assert _count(env["engine"], schema.mart_weekly_summary) == 1
    run = dags["report_reminders"].test(logical_date=deadline)
    assert str(run.state) == "success"
    keys = [m["X-Recruitment-Message-Key"] for m in env["sink"].messages()]
    assert sum(k.startswith("weekly_summary/") for k in keys) == 1
    assert sum(k.startswith("reminder/") for k in keys) == 31
    # clearing and rerunning both sends nothing new
    dags["friday_consolidation"].test(logical_date=deadline)
    dags["report_reminders"].test(logical_date=deadline)
    assert len(env["sink"].files()) == len(keys)


def test_a_week_of_the_demo_logs_no_error_and_indexes_every_message(airflow_db, tmp_path, monkeypatch):
    """``make demo`` for one week: the mail page lists the summaries first, then every other message by
    its simulated time, each linked to its body as HTML; the task logs hold no error."""
    import re

    from recruitment_devkit import demo

    data = tmp_path / "data"
    monkeypatch.setenv("RECRUITMENT_DATA_DIR", str(data))
    monkeypatch.setenv("RECRUITMENT_INBOX", str(data / "inbox"))
    monkeypatch.setenv(
        "AIRFLOW_CONN_WAREHOUSE", json.dumps({"conn_type": "sqlite", "host": str(data / "wh.db")})
    )
    # the demo points these at its mail sink and simulator: restored after the test
    for name in [
        "AIRFLOW_CONN_SMTP_DEFAULT",
        *(f"AIRFLOW_CONN_{p.conn_id.upper()}" for p in config.platforms()),
    ]:
        monkeypatch.setenv(name, os.environ.get(name, ""))

    index = demo.run_demo(weeks=1)

    rows = re.findall(
        r"<tr><td>([^<]+)</td><td>([^<]+)</td><td>[^<]*</td><td><a href='([^']+)'>[^<]*</a></td>"
        r"<td><a href='([^']+)'>\.eml</a></td></tr>",
        index.read_text(encoding="utf-8"),
    )
    emls = sorted(p.name for p in (data / "mail").glob("*.eml"))
    assert sorted(eml for *_, eml in rows) == emls
    kinds = [kind for _, kind, _, _ in rows]
    summaries = kinds.count("weekly_summary")
    assert summaries >= 1
    assert kinds[:summaries] == ["weekly_summary"] * summaries
    assert {"receipt", "reminder"} <= set(kinds[summaries:])
    rest = [when for when, kind, _, _ in rows if kind != "weekly_summary"]
    assert rest == sorted(rest)
    deadline = CAMPAIGN.deadline(WEEK1)
    assert all(when.startswith("2022-11-") for when, *_ in rows)  # the simulated time, not the wall clock
    assert any(when == f"{deadline:%Y-%m-%d %H:%M}" for when, kind, _, _ in rows if kind == "weekly_summary")
    for _, _, page, _ in rows:
        body = (data / "mail" / page).read_text(encoding="utf-8")
        assert body.lstrip().lower().startswith("<!doctype html") or "<html" in body[:200].lower(), page
        assert "cid:" not in body
    log = (data / "demo.log").read_text(encoding="utf-8", errors="replace")
    errors = [line for line in log.splitlines() if re.search(r"\[error\s*\]|\bERROR\b|Traceback", line)]
    assert errors == []

"""``make distributed-demo``: one campaign week on a real distributed Airflow, without Docker,
the same shape as the production compose file.

The production shape on one machine: fresh PostgreSQL databases for Airflow's metadata and for the
warehouse, a Redis database of its own as the Celery broker, and separate processes for the API server,
the scheduler, the DAG processor, the triggerer and two Celery workers (``w1``, ``w2``, concurrency 2
each). The mail sink and the feed simulator run in this process. The inbox gets the reports of one week
(those landed by its Friday deadline); the DAGs are unpaused and triggered through the REST API (v2,
a JWT from ``/auth/token`` for the simple auth manager's ``admin``): ``provincial_reports`` and
``job_feeds`` (the week's window), then ``friday_consolidation`` and ``report_reminders`` at the
deadline. Then the warehouse, the mailbox and the task instances are checked — each worker's
``[core] hostname_callable`` is :func:`worker_hostname`, so every task instance records which worker ran
it — and everything started is stopped (SIGINT, then SIGTERM and SIGKILL to the process group; then
``ps`` must show no process of the run), the databases dropped and the Redis database flushed.

The clock is simulated (the 2022 campaign), so the scheduler runs with ``use_job_schedule = False``:
only the runs triggered here exist; no timetable or Asset run for "now" joins in.

    python -m recruitment_devkit.distributed [--week 2022-11-11] [--keep] [--json report.json]

Needs PostgreSQL (``--postgres``, a user that may CREATE DATABASE) and Redis (``--redis``). Exit status 0
when every check passed. Each process logs to ``<workdir>/logs/<name>.log``; the workdir is removed
after a successful run and kept (its path printed) after a failure or with ``--keep``.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from recruitment_devkit import environment
from recruitment_devkit.airflow_processes import Processes, free_port, tail

DAG_IDS = ("provincial_reports", "job_feeds", "friday_consolidation", "report_reminders")
WORKERS = ("w1", "w2")
WORKER_CONCURRENCY = 2
PARALLELISM = 4
AVOID_PORTS = {8080, 28081}  # the default API server port, and one another local set-up uses
POSTINGS_PER_PLATFORM = 1000
FEED_START = datetime(2022, 11, 1, tzinfo=UTC)  # the simulator's first posting; week 1 is pulled from here
REDIS_CLAIM_KEY = "recruitment-month:distributed-run"
WORKER_NAME_VARIABLE = "RECRUITMENT_WORKER_NAME"
RUN_MARKER_VARIABLE = "RECRUITMENT_DISTRIBUTED_RUN"
ADMIN_USER = "admin"


def worker_hostname() -> str:
    """``[core] hostname_callable`` of the workers: the worker's own name, so that the task instances a
    worker ran record it (two workers on one machine would otherwise record the same host name)."""
    return os.environ.get(WORKER_NAME_VARIABLE) or socket.getfqdn()


class DistributedRunError(RuntimeError):
    """A step of the distributed run failed; the message says which and why."""


@dataclass
class Options:
    week: date = date(2022, 11, 11)
    postgres: str = "postgresql://postgres@127.0.0.1:5432/postgres"  # any database to run CREATE DATABASE in
    redis: str = "redis://127.0.0.1:6379"
    workdir: Path | None = None  # default: a new temporary directory
    keep: bool = False  # keep the workdir (logs, inbox, mail) even after success
    postings_per_platform: int = POSTINGS_PER_PLATFORM
    start_timeout: float = 240.0  # migrations, process start-up, health, DAG parsing: each step
    run_timeout: float = 420.0  # each pair of DAG runs
    stop_timeout: float = 30.0  # per signal, before the next stronger one
    quiet: bool = False


@dataclass
class RunResult:
    dag_id: str
    run_id: str
    state: str
    seconds: float | None
    tasks: int  # the task instances that ran (not skipped)
    hosts: dict[str, int]


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Report:
    week: str
    token: str = ""  # names this run's databases and its Redis claim
    api_url: str = ""
    metadata_db: str = ""
    warehouse_db: str = ""
    redis_db: int | None = None
    worker_names: dict[str, str] = field(default_factory=dict)  # w1 -> the hostname its tasks record
    phases: dict[str, float] = field(default_factory=dict)
    runs: list[RunResult] = field(default_factory=list)
    tasks_per_worker: dict[str, int] = field(default_factory=dict)
    emails: dict[str, int] = field(default_factory=dict)  # by message key prefix
    expected_emails: dict[str, int] = field(default_factory=dict)
    warehouse: dict[str, Any] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    sessions: list[int] = field(default_factory=list)  # one session per process started
    stopped: dict[str, str] = field(default_factory=dict)  # process -> how it ended
    leftover_processes: list[str] = field(default_factory=list)  # found after stopping (then killed)
    cleanup_errors: list[str] = field(default_factory=list)
    error: str | None = None
    workdir: str = ""
    seconds: float = 0.0

    @property
    def failures(self) -> list[str]:
        out = [f"{c.name}: {c.detail}" for c in self.checks if not c.ok]
        if self.error:
            out.insert(0, self.error)
        out += [f"process left running after stop: {p}" for p in self.leftover_processes]
        out += [f"cleanup: {e}" for e in self.cleanup_errors]
        return out

    def render(self) -> str:
        lines = [
            f"Distributed run, week ending {self.week}: "
            + (
                f"CeleryExecutor with {len(self.worker_names)} workers × {WORKER_CONCURRENCY}, metadata "
                f"{self.metadata_db}, warehouse {self.warehouse_db}, Redis db {self.redis_db}, API {self.api_url}"
                if self.metadata_db
                else "not started"
            )
        ]
        if self.phases:
            lines += [
                "",
                "Phases: " + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in self.phases.items()),
            ]
        lines += self._run_lines()
        lines += self._result_lines()
        return "\n".join(lines)

    def _run_lines(self) -> list[str]:
        """The DAG runs, the tasks per worker, the emails and the warehouse's content."""
        lines = []
        if self.runs:
            lines += ["", f"{'DAG run':24s} {'state':8s} {'duration':>8s} {'tasks':>5s}  per worker"]
            for r in self.runs:
                took = f"{r.seconds:.0f} s" if r.seconds is not None else "-"
                hosts = ", ".join(f"{h} {n}" for h, n in sorted(r.hosts.items()))
                lines.append(f"{r.dag_id:24s} {r.state:8s} {took:>8s} {r.tasks:5d}  {hosts}")
        if self.tasks_per_worker:
            lines.append(
                "Tasks per worker: " + ", ".join(f"{h} {n}" for h, n in sorted(self.tasks_per_worker.items()))
            )
        if self.emails or self.expected_emails:
            lines.append(
                "Emails: "
                + ", ".join(f"{k} {n}" for k, n in sorted(self.emails.items()))
                + f" (expected {', '.join(f'{k} {n}' for k, n in sorted(self.expected_emails.items()))})"
            )
        if self.warehouse:
            lines.append("Warehouse: " + ", ".join(f"{k} {v}" for k, v in self.warehouse.items()))
        return lines

    def _result_lines(self) -> list[str]:
        """The checks, how the processes stopped, and the verdict."""
        lines = []
        if self.checks:
            lines += ["", "Checks:"]
            lines += [f"  {'ok  ' if c.ok else 'FAIL'} {c.name}: {c.detail}" for c in self.checks]
        if self.stopped:
            lines.append("")
            lines.append("Stopped: " + ", ".join(f"{n} ({how})" for n, how in self.stopped.items()))
            left = ", ".join(self.leftover_processes) if self.leftover_processes else "none"
            lines.append(f"Processes of this run left after stopping: {left}")
        failures = self.failures
        lines.append("")
        if failures:
            lines.append(f"FAILED ({len(failures)}):")
            lines += [f"  - {f}" for f in failures]
            if self.workdir:
                lines.append(f"Logs and files kept in {self.workdir}")
        else:
            lines.append(f"All checks passed in {self.seconds:.0f} s.")
        return lines

    def to_json(self) -> str:
        data = asdict(self)
        data["failures"] = self.failures
        return json.dumps(data, ensure_ascii=False, indent=2, default=str)


# --------------------------------------------------------------------------------------------- helpers


def _say(options: Options, message: str) -> None:
    if not options.quiet:
        print(message, flush=True)


def _wait(what: str, timeout: float, probe, *, interval: float = 1.0, alive=None):
    """Call ``probe()`` until it returns something truthy; ``alive()`` raises when a process died."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        if alive is not None:
            alive()
        try:
            result = probe()
            if result:
                return result
        except DistributedRunError:
            raise
        except Exception as exc:  # the server may not be listening yet
            last_error = exc
        if time.monotonic() > deadline:
            detail = f" (last error: {last_error})" if last_error else ""
            raise DistributedRunError(f"timed out after {timeout:.0f} s waiting for {what}{detail}")
        time.sleep(interval)


def _parse_postgres(url: str) -> dict:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 5432,
        "user": parts.username or "postgres",
        "password": parts.password,
        "dbname": parts.path.lstrip("/") or "postgres",
    }


def preflight(options: Options) -> list[str]:
    """What is missing to run: PostgreSQL and Redis must answer."""
    import psycopg
    import redis

    problems = []
    pg = _parse_postgres(options.postgres)
    try:
        with psycopg.connect(connect_timeout=5, **{k: v for k, v in pg.items() if v is not None}):
            pass
    except psycopg.Error as exc:
        problems.append(f"PostgreSQL at {pg['host']}:{pg['port']} is not reachable: {exc}")
    try:
        redis.Redis.from_url(options.redis, socket_connect_timeout=5).ping()
    except redis.RedisError as exc:
        problems.append(f"Redis at {options.redis} is not reachable: {exc}")
    return problems


# --------------------------------------------------------------------------------------------- resources


class Databases:
    """Two fresh PostgreSQL databases (metadata, warehouse), dropped by :meth:`drop`."""

    def __init__(self, admin_url: str, token: str) -> None:
        self.pg = _parse_postgres(admin_url)
        self.metadata = f"recruitment_dist_{token}_airflow"
        self.warehouse = f"recruitment_dist_{token}_warehouse"
        self.created: list[str] = []

    def _admin(self):
        import psycopg

        return psycopg.connect(autocommit=True, **{k: v for k, v in self.pg.items() if v is not None})

    def create(self) -> None:
        with self._admin() as conn:
            for name in (self.metadata, self.warehouse):
                conn.execute(f'CREATE DATABASE "{name}"')
                self.created.append(name)

    def drop(self) -> None:
        with self._admin() as conn:
            for name in reversed(self.created):
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.clear()

    def _authority(self) -> str:
        user = self.pg["user"] + (f":{self.pg['password']}" if self.pg["password"] else "")
        return f"{user}@{self.pg['host']}:{self.pg['port']}"

    def airflow_url(self, scheme: str = "postgresql+psycopg2") -> str:
        return f"{scheme}://{self._authority()}/{self.metadata}"

    def warehouse_url(self) -> str:
        return f"postgresql+psycopg://{self._authority()}/{self.warehouse}"

    def warehouse_connection(self) -> dict:
        conn = {
            "conn_type": "postgres",
            "host": self.pg["host"],
            "port": self.pg["port"],
            "login": self.pg["user"],
            "schema": self.warehouse,
        }
        if self.pg["password"]:
            conn["password"] = self.pg["password"]
        return conn


class RedisDatabase:
    """A Redis database of our own: the first empty one from 15 down to 1, claimed with a key (so two
    runs never share one), flushed when released. Database 0 is left to others."""

    def __init__(self, url: str, token: str) -> None:
        import redis

        self.url = url.rstrip("/")
        self.token = token
        self.number: int | None = None
        self._redis = redis

    def _client(self, number: int):
        return self._redis.Redis.from_url(f"{self.url}/{number}", socket_connect_timeout=5)

    def claim(self) -> int:
        for number in range(15, 0, -1):
            client = self._client(number)
            try:
                if client.dbsize() == 0 and client.set(REDIS_CLAIM_KEY, self.token, nx=True):
                    self.number = number
                    return number
            finally:
                client.close()
        raise DistributedRunError(f"no empty Redis database (1-15) at {self.url} to use as the broker")

    def broker_url(self) -> str:
        return f"{self.url}/{self.number}"

    def release(self) -> None:
        if self.number is None:
            return
        client = self._client(self.number)
        try:
            owner = client.get(REDIS_CLAIM_KEY)
            if owner is None or owner.decode() == self.token:
                client.flushdb()
        finally:
            client.close()
        self.number = None


# --------------------------------------------------------------------------------------------- REST API


class Api:
    """The Airflow public REST API (v2) with a JWT from the simple auth manager's ``/auth/token``."""

    def __init__(self, base_url: str) -> None:
        import requests

        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()

    def _url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def health(self) -> dict:
        response = self.session.get(self._url("/api/v2/monitor/health"), timeout=10)
        response.raise_for_status()
        return response.json()

    def login(self, username: str, password: str) -> None:
        response = self.session.post(
            self._url("/auth/token"), json={"username": username, "password": password}, timeout=30
        )
        if response.status_code not in (200, 201):
            raise DistributedRunError(f"login as {username} failed: {response.status_code} {response.text}")
        self.session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    def request(self, method: str, path: str, *, ok=(200, 201), **kwargs) -> Any:
        response = self.session.request(method, self._url(path), timeout=60, **kwargs)
        if response.status_code not in ok:
            raise DistributedRunError(f"{method} {path}: {response.status_code} {response.text[:2000]}")
        return response.json() if response.content else None

    def dag(self, dag_id: str) -> dict | None:
        response = self.session.get(self._url(f"/api/v2/dags/{dag_id}"), timeout=30)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()

    def import_errors(self) -> list[dict]:
        return self.request("GET", "/api/v2/importErrors")["import_errors"]

    def unpause(self, dag_id: str) -> None:
        self.request("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str, *, logical_date: datetime | None = None, conf: dict | None = None) -> str:
        body = {"logical_date": logical_date.isoformat() if logical_date else None, "conf": conf or {}}
        return self.request("POST", f"/api/v2/dags/{dag_id}/dagRuns", json=body)["dag_run_id"]

    def run(self, dag_id: str, run_id: str) -> dict:
        return self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        out: list[dict] = []
        while True:
            page = self.request(
                "GET",
                f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
                params={"limit": 100, "offset": len(out)},
            )
            out += page["task_instances"]
            if not page["task_instances"] or len(out) >= page["total_entries"]:
                return out

    def task_log(self, ti: dict) -> str:
        data = self.request(
            "GET",
            f"/api/v2/dags/{ti['dag_id']}/dagRuns/{ti['dag_run_id']}/taskInstances/{ti['task_id']}"
            f"/logs/{max(ti['try_number'], 1)}",
            params={"map_index": ti["map_index"], "full_content": "true"},
            headers={"Accept": "application/json"},
        )
        return _render_log(data.get("content") or [])


def _render_log(content: list) -> str:
    lines = []
    for entry in content:
        if isinstance(entry, str):
            lines.append(entry)
            continue
        stamp = entry.get("timestamp") or ""
        level = (entry.get("level") or "").upper()
        lines.append(f"{stamp} {level} {entry.get('event', '')}".strip())
        for detail in entry.get("error_detail") or []:
            lines.append(f"    {detail.get('exc_type')}: {detail.get('exc_value')}")
            for frame in detail.get("frames") or []:
                lines.append(f"      {frame.get('filename')}:{frame.get('lineno')} in {frame.get('name')}")
    return "\n".join(lines)


def _ti_label(ti: dict) -> str:
    index = ti.get("rendered_map_index") or (ti["map_index"] if ti["map_index"] >= 0 else None)
    return f"{ti['dag_id']}.{ti['task_id']}" + (f"[{index}]" if index is not None else "")


def _seconds(run: dict) -> float | None:
    if not run.get("start_date") or not run.get("end_date"):
        return None
    start = datetime.fromisoformat(run["start_date"])
    end = datetime.fromisoformat(run["end_date"])
    return (end - start).total_seconds()


def wait_for_runs(api: Api, runs: dict[str, str], timeout: float, alive) -> dict[str, dict]:
    """Wait until every run succeeds. A failed run or a task that failed or is up for retry (a retry
    never happens in this controlled run unless something is broken) stops the wait with its log."""
    deadline = time.monotonic() + timeout
    done: dict[str, dict] = {}
    while True:
        alive()
        for dag_id, run_id in runs.items():
            if dag_id in done:
                continue
            run = api.run(dag_id, run_id)
            bad = [
                ti
                for ti in api.task_instances(dag_id, run_id)
                if ti["state"] in ("failed", "up_for_retry", "upstream_failed")
            ]
            if bad or run["state"] == "failed":
                logs = [
                    f"--- {_ti_label(ti)} ({ti['state']}, try {ti['try_number']}, host {ti.get('hostname')})"
                    f"\n{api.task_log(ti)}"
                    for ti in bad
                    if ti["state"] != "upstream_failed"
                ]
                raise DistributedRunError(
                    f"{dag_id} run {run_id} is {run['state']}; failed tasks: "
                    f"{', '.join(_ti_label(ti) + ' ' + ti['state'] for ti in bad) or 'none'}\n"
                    + "\n".join(logs)
                )
            if run["state"] == "success":
                done[dag_id] = run
        if len(done) == len(runs):
            return done
        if time.monotonic() > deadline:
            states = {}
            for dag_id, run_id in runs.items():
                if dag_id not in done:
                    states[dag_id] = dict(Counter(ti["state"] for ti in api.task_instances(dag_id, run_id)))
            raise DistributedRunError(
                f"timed out after {timeout:.0f} s waiting for {', '.join(states)} to succeed; task states: {states}"
            )
        time.sleep(2)


# --------------------------------------------------------------------------------------------- the run


@dataclass(frozen=True)
class Wiring:
    """What the Airflow processes of a run connect to, and where their API listens."""

    databases: Databases
    broker_url: str
    api_port: int
    sink_connection: dict
    feed_connections: dict[str, dict]


def build_env(*, home: Path, data: Path, wiring: Wiring, passwords_file: Path, marker: str) -> dict[str, str]:
    """The environment of every Airflow process: the project's settings (``dev.env``), then what the
    distributed mode changes. Inherited AIRFLOW*/RECRUITMENT_* variables are dropped: the run is
    hermetic."""
    from cryptography.fernet import Fernet

    databases, api_port = wiring.databases, wiring.api_port

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "RECRUITMENT_"))}
    env.update(environment.read())
    # the product, then the dev kit (the worker hostname callable below lives in the dev kit)
    paths = [str(environment.PROJECT_ROOT / d) for d in ("plugins", "devkit")]
    api = f"http://127.0.0.1:{api_port}"
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "PYTHONPATH": os.pathsep.join(p for p in (*paths, os.environ.get("PYTHONPATH")) if p),
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(PARALLELISM),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": databases.airflow_url(),
            "AIRFLOW__CELERY__BROKER_URL": wiring.broker_url,
            "AIRFLOW__CELERY__RESULT_BACKEND": databases.airflow_url("db+postgresql"),
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(WORKER_CONCURRENCY),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__API__BASE_URL": api,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            # Simulated clock: only the runs triggered through the API, no run for "now".
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            "RECRUITMENT_DATA_DIR": str(data),
            "RECRUITMENT_INBOX": str(data / "inbox"),
            "AIRFLOW_CONN_WAREHOUSE": json.dumps(databases.warehouse_connection()),
            "AIRFLOW_CONN_SMTP_DEFAULT": json.dumps(wiring.sink_connection),
            RUN_MARKER_VARIABLE: marker,
        }
    )
    for conn_id, conn in wiring.feed_connections.items():
        env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(conn)
    return env


def _step(name: str, args: list[str], env: dict[str, str], logs: Path, timeout: float) -> None:
    log = logs / f"{name}.log"
    with log.open("wb") as out:
        try:
            result = subprocess.run(  # noqa: S603 - our own interpreter
                [sys.executable, *args],
                env=env,
                cwd=logs,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise DistributedRunError(f"{name} took more than {timeout:.0f} s; see {log}") from exc
    if result.returncode != 0:
        raise DistributedRunError(f"{name} failed with code {result.returncode}:\n{tail(log)}")


def run(options: Options | None = None) -> Report:
    """The whole distributed run; never raises for a failed step: the report says what failed."""
    options = options or Options()
    started = time.monotonic()
    token = secrets.token_hex(4)
    report = Report(week=options.week.isoformat(), token=token)
    problems = preflight(options)
    if problems:
        report.error = "; ".join(problems)
        return report
    workdir = Path(options.workdir or tempfile.mkdtemp(prefix="recruitment-distributed-"))
    workdir.mkdir(parents=True, exist_ok=True)
    report.workdir = str(workdir)
    logs = workdir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    processes = Processes(logs, sessions=report.sessions, error=DistributedRunError)
    cleanup = contextlib.ExitStack()
    atexit.register(cleanup.close)  # an interpreter exit in the middle still cleans up
    try:
        _run(_Session(options, token, workdir, report, cleanup, processes))
    except DistributedRunError as exc:
        report.error = str(exc)
    except Exception as exc:
        import traceback

        report.error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
    except BaseException as exc:  # Ctrl-C, SIGTERM, a pytest timeout: clean up, keep the logs, re-raise
        report.error = f"interrupted: {exc!r}"
        raise
    finally:
        try:
            cleanup.close()
        except Exception as exc:
            report.cleanup_errors.append(repr(exc))
        atexit.unregister(cleanup.close)
        report.seconds = time.monotonic() - started
        if report.error:
            report.error += "".join(
                f"\n--- end of {log.name}\n{tail(log, 15)}" for log in sorted(logs.glob("*.log"))
            )
        if not report.failures and not options.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return report


def _record_stop(processes: Processes, report: Report, timeout: float) -> None:
    report.stopped, report.leftover_processes = processes.stop(timeout)


@dataclass(frozen=True)
class _Session:
    """One distributed run in progress: what it was asked, its report, and what undoes its set-up."""

    options: Options
    token: str
    workdir: Path
    report: Report
    cleanup: contextlib.ExitStack
    processes: Processes


@dataclass(frozen=True)
class _Week:
    """The week the run plays: the feeds' window starts at ``since``; reports are due at ``deadline``."""

    since: datetime
    deadline: datetime


@dataclass(frozen=True)
class _World:
    """The run's stand-ins and data: its databases, mail sink, feed simulator and inbox manifest."""

    databases: Databases
    sink: Any
    simulator: Any
    manifest: Any


def _run(session: _Session) -> None:
    from recruitment_devkit import demo_inbox as report_demo
    from recruitment_devkit.feed_simulator import FeedSimulator
    from recruitment_devkit.mailsink import MailSink
    from recruitment_month import config

    options, token, workdir = session.options, session.token, session.workdir
    report, cleanup, processes = session.report, session.cleanup, session.processes
    campaign = config.campaign()
    if options.week not in campaign.weeks:
        raise DistributedRunError(f"{options.week} is not a reporting week of {campaign.name}")
    deadline = campaign.deadline(options.week).astimezone(UTC)
    since = (
        FEED_START
        if options.week == campaign.weeks[0]
        else campaign.deadline(campaign.weeks[campaign.weeks.index(options.week) - 1]).astimezone(UTC)
    )
    clock = time.monotonic()

    def phase(name: str) -> None:
        nonlocal clock
        now = time.monotonic()
        report.phases[name] = now - clock
        clock = now

    home, data, logs = workdir / "airflow_home", workdir / "data", processes.logs
    for path in (home, data):
        path.mkdir(parents=True, exist_ok=True)

    databases = Databases(options.postgres, token)
    cleanup.callback(databases.drop)
    databases.create()
    report.metadata_db, report.warehouse_db = databases.metadata, databases.warehouse
    broker = RedisDatabase(options.redis, token)
    cleanup.callback(broker.release)
    report.redis_db = broker.claim()

    sink = MailSink(data / "mail", port=0).start()
    cleanup.callback(sink.stop)
    simulator = FeedSimulator(postings_per_platform=options.postings_per_platform).start()
    cleanup.callback(simulator.stop)
    feeds = {
        p.conn_id: {"conn_type": "http", "host": simulator.base_url(p.code), "password": simulator.token}
        for p in config.platforms()
    }
    password = secrets.token_urlsafe(16)
    passwords_file = home / "passwords.json"
    passwords_file.write_text(json.dumps({ADMIN_USER: password}), encoding="utf-8")
    api_port = free_port(AVOID_PORTS)
    report.api_url = f"http://127.0.0.1:{api_port}"
    wiring = Wiring(databases, broker.broker_url(), api_port, sink.connection, feeds)
    env = build_env(home=home, data=data, wiring=wiring, passwords_file=passwords_file, marker=token)
    _say(
        options,
        f"Distributed run {token}: metadata {databases.metadata}, Redis db {report.redis_db}, {workdir}",
    )

    _step("db-migrate", ["-m", "airflow", "db", "migrate"], env, logs, options.start_timeout)
    _step("warehouse-migrate", ["-m", "recruitment_month.warehouse"], env, logs, options.start_timeout)
    manifest = report_demo.generate_inbox(data / "inbox", weeks=[options.week], until=deadline)
    phase("set-up")
    _say(options, f"Databases migrated; {len(manifest.written)} report files in the inbox. Starting Airflow.")

    processes.env = env
    cleanup.callback(_record_stop, processes, report, options.stop_timeout)  # undone first: LIFO
    week = _Week(since, deadline)
    _start_and_drive(session, (api_port, password), week, phase)
    _check(session, _World(databases, sink, simulator, manifest), week)


def _start_and_drive(session: _Session, api_access: tuple[int, str], week: _Week, phase) -> None:
    """Start Airflow's components, wait until they are up, run the week's DAGs and note where tasks ran;
    ``api_access`` is the API's port and the admin's password."""
    options, processes, report = session.options, session.processes, session.report
    api_port, password = api_access
    since, deadline = week.since, week.deadline
    host = socket.gethostname()
    processes.start(
        "api-server", ["api-server", "--host", "127.0.0.1", "--port", str(api_port), "--workers", "1"]
    )
    processes.start("scheduler", ["scheduler", "--skip-serve-logs"])
    processes.start("dag-processor", ["dag-processor"])
    processes.start("triggerer", ["triggerer", "--skip-serve-logs"])
    for name in WORKERS:
        report.worker_names[name] = f"{name}@{host}"
        processes.start(
            f"worker-{name}",
            [
                "celery",
                "worker",
                "--celery-hostname",
                f"{name}@%h",
                "--concurrency",
                str(WORKER_CONCURRENCY),
                "--skip-serve-logs",
            ],
            {
                WORKER_NAME_VARIABLE: report.worker_names[name],
                "AIRFLOW__CORE__HOSTNAME_CALLABLE": "recruitment_devkit.distributed.worker_hostname",
            },
        )
    api = Api(report.api_url)
    alive = processes.check_alive

    def healthy():
        health = api.health()
        return all(
            (health.get(part) or {}).get("status") == "healthy"
            for part in ("metadatabase", "scheduler", "triggerer", "dag_processor")
        )

    _wait(
        "the API server, scheduler, triggerer and DAG processor to report healthy",
        options.start_timeout,
        healthy,
        alive=alive,
    )

    def workers_ready():  # Celery logs "<name>@<host> ready." once it consumes the queue
        return all(
            re.search(
                rf"\b{name}@\S+ ready\.", logs_of(processes, f"worker-{name}").read_text(errors="replace")
            )
            for name in WORKERS
        )

    _wait(
        f"the Celery workers {', '.join(WORKERS)} to be ready",
        options.start_timeout,
        workers_ready,
        alive=alive,
    )
    api.login(ADMIN_USER, password)

    def parsed():
        errors = api.import_errors()
        if errors:
            raise DistributedRunError(f"DAG import errors: {errors}")
        return all(api.dag(dag_id) for dag_id in DAG_IDS)

    _wait(f"the DAG processor to parse {', '.join(DAG_IDS)}", options.start_timeout, parsed, alive=alive)
    for dag_id in DAG_IDS:
        api.unpause(dag_id)
    phase("start-up")
    _say(
        options,
        "Airflow is up (API, scheduler, DAG processor, triggerer, 2 workers); DAGs parsed and unpaused.",
    )

    window = {"since": since.isoformat(), "until": deadline.isoformat()}
    first = {
        "provincial_reports": api.trigger("provincial_reports"),
        "job_feeds": api.trigger("job_feeds", conf=window),
    }
    _say(options, f"Triggered provincial_reports and job_feeds ({window['since']} – {window['until']}).")
    finished = wait_for_runs(api, first, options.run_timeout, alive)
    phase("reports-and-feeds")
    second = {
        "friday_consolidation": api.trigger("friday_consolidation", logical_date=deadline),
        "report_reminders": api.trigger("report_reminders", logical_date=deadline),
    }
    _say(options, f"Triggered friday_consolidation and report_reminders at {deadline.isoformat()}.")
    finished.update(wait_for_runs(api, second, options.run_timeout, alive))
    phase("consolidation-and-reminders")

    total: Counter = Counter()
    for dag_id, run_id in {**first, **second}.items():
        # the tasks that ran: a skipped one (sign-off when the campaign does not require it) ran nowhere
        tis = [ti for ti in api.task_instances(dag_id, run_id) if ti["state"] not in ("removed", "skipped")]
        hosts = Counter(ti.get("hostname") or "?" for ti in tis if ti["state"] == "success")
        total.update(hosts)
        report.runs.append(
            RunResult(
                dag_id, run_id, finished[dag_id]["state"], _seconds(finished[dag_id]), len(tis), dict(hosts)
            )
        )
    report.tasks_per_worker = dict(total)


def logs_of(processes: Processes, name: str) -> Path:
    return next(p.log for p in processes.running if p.name == name)


def _check(session: _Session, world: _World, window: _Week) -> None:
    from sqlalchemy import create_engine, func, select

    from recruitment_month import config, schema

    options, report = session.options, session.report
    databases, sink, simulator, manifest = world.databases, world.sink, world.simulator, world.manifest
    since, deadline = window.since, window.deadline
    week = options.week
    checks = report.checks
    files = {f.path: f for r in manifest.reports for f in r.files}
    written = [files[path] for path in manifest.written]
    accepted = [f for f in written if f.expect == "accepted"]
    rejected = [f for f in written if f.expect == "rejected"]
    reporting_units = {f.unit_code for f in accepted}
    units = [u.code for u in config.units().units]

    # Which worker ran what: every task instance records the name of the worker that ran it.
    names = set(report.worker_names.values())
    per = report.tasks_per_worker
    checks.append(
        Check(
            "tasks ran on both workers",
            all(per.get(n, 0) > 0 for n in names) and set(per) <= names,
            ", ".join(f"{h}: {n}" for h, n in sorted(per.items())),
        )
    )
    checks.append(
        Check(
            "every run succeeded",
            len(report.runs) == len(DAG_IDS) and all(r.state == "success" for r in report.runs),
            ", ".join(f"{r.dag_id} {r.state}" for r in report.runs),
        )
    )

    engine = create_engine(databases.warehouse_url())
    try:
        with engine.connect() as conn:
            r = schema.core_report
            rows = conn.execute(select(r.c.unit_code, r.c.revision).where(r.c.week_ending == week)).all()
            p = schema.core_posting
            postings = set(conn.execute(select(p.c.platform_code, p.c.posting_id)).all())
            m = schema.mart_weekly_summary
            summaries = conn.execute(
                select(m.c.version, m.c.kind, m.c.expected, m.c.reported, m.c.on_time).where(
                    m.c.week_ending == week
                )
            ).all()
            n = schema.audit_notification
            ledger = dict(conn.execute(select(n.c.status, func.count()).group_by(n.c.status)).all())
    finally:
        engine.dispose()

    checks.append(
        Check(
            "core_report holds the week's accepted reports",
            len(rows) == len(accepted) and {u for u, _ in rows} == reporting_units,
            f"{len(rows)} revisions of {len({u for u, _ in rows})} units (expected {len(accepted)} of "
            f"{len(reporting_units)})",
        )
    )
    expected_postings = {
        (p.code, e["posting_id"])
        for p in config.platforms()
        for e in simulator.expected_postings(p.code, since, deadline)
        # a posting without a title is quarantined; a bad credit code costs the field, not the posting
        if e["defect"] != "missing_title"
    }
    checks.append(
        Check(
            "core_posting holds the simulator's postings of the window",
            postings == expected_postings and len(postings) > 0,
            f"{len(postings):,} postings (expected {len(expected_postings):,}; missing "
            f"{len(expected_postings - postings)}, unexpected {len(postings - expected_postings)})",
        )
    )
    summary_ok = (
        len(summaries) == 1
        and summaries[0].version == 1
        and summaries[0].kind == "preliminary"
        and summaries[0].expected == len(units)
        and summaries[0].reported == len(reporting_units)
    )
    checks.append(
        Check(
            "mart_weekly_summary has the week's preliminary summary",
            summary_ok,
            "; ".join(
                f"v{s.version} {s.kind}: {s.reported}/{s.expected} reported, {s.on_time} on time"
                for s in summaries
            )
            or "no summary",
        )
    )

    keys = [str(msg["X-Recruitment-Message-Key"] or "") for msg in sink.messages()]
    report.emails = dict(Counter(k.split("/", 1)[0] for k in keys))
    report.expected_emails = {
        "receipt": len(accepted),
        "rejection": len(rejected),
        "weekly_summary": config.campaign().weeks.index(week) + 1,  # a summary for every week closed by then
        "reminder": len(set(units) - reporting_units),
    }
    checks.append(
        Check(
            "the mailbox has the receipts, the summary and the reminders",
            report.emails == report.expected_emails and len(keys) == len(set(keys)),
            f"{len(keys)} messages: "
            + ", ".join(f"{k} {v}" for k, v in sorted(report.emails.items()))
            + ("" if len(keys) == len(set(keys)) else "; some message sent twice"),
        )
    )
    checks.append(
        Check(
            "the notification ledger has every message sent",
            set(ledger) == {"sent"} and ledger["sent"] == len(keys),
            ", ".join(f"{k} {v}" for k, v in sorted(ledger.items())),
        )
    )
    report.warehouse = {
        "core_report": len(rows),
        "core_posting": len(postings),
        "mart_weekly_summary": len(summaries),
        "emails": len(keys),
    }


# --------------------------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--week", type=date.fromisoformat, default=Options.week, help="reporting Friday")
    parser.add_argument("--postgres", default=Options.postgres, help="PostgreSQL server (any database)")
    parser.add_argument("--redis", default=Options.redis, help="Redis server (a free database is used)")
    parser.add_argument("--workdir", type=Path, help="where Airflow's home, logs, inbox and mail go")
    parser.add_argument("--keep", action="store_true", help="keep the workdir after a successful run")
    parser.add_argument("--json", type=Path, help="also write the report as JSON here")
    args = parser.parse_args(argv)

    def interrupted(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupted)  # a CI timeout still stops everything and drops the DBs
    options = Options(
        week=args.week, postgres=args.postgres, redis=args.redis, workdir=args.workdir, keep=args.keep
    )
    try:
        report = run(options)
    except KeyboardInterrupt:
        print("Interrupted: the processes were stopped, the databases dropped and the broker flushed.")
        return 130
    print()
    print(report.render())
    if args.json:
        args.json.write_text(report.to_json(), encoding="utf-8")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())

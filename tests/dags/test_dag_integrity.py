"""Policies as tests: the bag holds exactly the project's DAGs, each with an owner, known tags, docs,
retries, a time limit and a failure alert; DAG files import nothing heavy at parse time."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from recruitment_month.dag_defaults import DEFAULT_ARGS, OWNER
from recruitment_month.tags import Tag

DAGS = Path(__file__).resolve().parents[2] / "dags"
EXPECTED_DAG_IDS = {"provincial_reports", "job_feeds", "friday_consolidation", "report_reminders"}
HEAVY = ("pandas", "great_expectations", "openpyxl", "matplotlib", "alembic", "psycopg")


@pytest.fixture(scope="module")
def bag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def test_no_import_errors(bag):
    assert bag.import_errors == {}


def test_the_bag_holds_exactly_the_expected_dags(bag):
    assert bag.dag_ids, "the DagBag loaded nothing"
    assert set(bag.dag_ids) == EXPECTED_DAG_IDS


def test_one_dag_per_file_named_after_it(bag):
    for dag_id, dag in bag.dags.items():
        assert Path(dag.fileloc).stem == dag_id


@pytest.mark.parametrize("dag_id", sorted(EXPECTED_DAG_IDS))
def test_dag_policies(bag, dag_id):
    dag = bag.dags[dag_id]
    assert dag.doc_md, "every DAG documents itself for the engineer on call"
    assert len(dag.doc_md) > 200, "every DAG documents itself for the engineer on call"
    assert "Rerun" in dag.doc_md
    assert "When it fails" in dag.doc_md
    assert dag.tags, "every DAG has tags"
    assert set(dag.tags) <= {t.value for t in Tag}, f"unknown tags {set(dag.tags) - {t.value for t in Tag}}"
    for t in dag.tasks:
        assert t.owner == OWNER, f"{t.task_id} has owner {t.owner}"
        assert t.retries >= 1, f"{t.task_id} has no retries"
        callbacks = (
            t.on_failure_callback if isinstance(t.on_failure_callback, list) else [t.on_failure_callback]
        )
        assert any(callable(c) for c in callbacks), f"{t.task_id} alerts nobody when it fails"


# Nothing may hang a DAG's runs: a task past its limit fails (and is retried) instead of holding the run.
LONGEST_TASK = timedelta(hours=1)


@pytest.mark.parametrize("dag_id", sorted(EXPECTED_DAG_IDS))
def test_every_task_has_a_time_limit(bag, dag_id):
    dag = bag.dags[dag_id]
    assert dag.tasks, f"{dag_id} has no tasks"
    for t in dag.tasks:
        limit = t.execution_timeout
        assert isinstance(limit, timedelta), f"{dag_id}.{t.task_id} has no execution_timeout"
        assert timedelta(0) < limit <= LONGEST_TASK, f"{dag_id}.{t.task_id}: execution_timeout {limit}"


def test_a_run_of_the_ten_minute_poll_fits_before_the_next_one_is_late(bag):
    """provincial_reports runs every 10 minutes with one active run: each task's limit is below the
    default, so a stalled inbox or mail server costs a few runs, not half an hour each."""
    dag = bag.dags["provincial_reports"]
    limits = {t.task_id: t.execution_timeout for t in dag.tasks}
    assert set(limits) == {"collect", "process", "notify", "announce"}
    assert all(limit < DEFAULT_ARGS["execution_timeout"] for limit in limits.values()), limits


@pytest.mark.parametrize("path", sorted(DAGS.glob("*.py")), ids=lambda p: p.name)
def test_dag_files_import_nothing_heavy(path):
    code = (
        "import runpy, sys; runpy.run_path(sys.argv[1]);"
        f"print('HEAVY=' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    (line,) = [x for x in out.stdout.splitlines() if x.startswith("HEAVY=")]
    assert line == "HEAVY=", f"imported at parse time: {line.removeprefix('HEAVY=')}"

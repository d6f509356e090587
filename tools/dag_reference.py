"""Write docs/dags.md, the per-DAG reference, from the DAGs themselves: each DAG's ``doc_md`` (its file's
docstring), schedule, tags, owner and tasks with their time limits and retries.

``make docs`` runs it; ``tests/test_docs.py`` regenerates the text in memory and fails when the committed
file differs. The DAGs are parsed with a DagBag, as the scheduler and the DAG integrity test parse them.

    python tools/dag_reference.py            # write docs/dags.md
    python tools/dag_reference.py --check    # exit 1 when docs/dags.md is stale
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DAGS = ROOT / "dags"
TARGET = ROOT / "docs" / "dags.md"
COMMAND = "make docs"

HEADER = f"""# DAG reference

Generated from the DAG files in `dags/` by `tools/dag_reference.py`; do not edit by hand. After changing a
DAG, run `{COMMAND}` (a test fails while this page is stale). Each section is the DAG's `doc_md` (its
file's docstring, also shown under *Docs* in the Airflow UI), then what the scheduler knows about it.
Times in the schedules are cron expressions in the time zone named beside them (Beijing = Asia/Shanghai
= UTC+8). For the overview, see the [README](../README.md); for failures and alerts,
[production.md](production.md#failure-alerts).
"""


def _duration(value: timedelta | None) -> str:
    if value is None:
        return "none"
    seconds = int(value.total_seconds())
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def _cron(timetable) -> str:
    expression = getattr(timetable, "_expression", None) or getattr(timetable, "expression", None)
    zone = getattr(timetable, "_timezone", None) or getattr(timetable, "timezone", None)
    zone = getattr(zone, "name", zone)
    # Not whether runs cover data intervals: for a cron string that depends on Airflow's configuration
    # ([scheduler] create_cron_data_intervals), which differs under test; each doc_md says it.
    return f"cron `{expression}` ({zone})"


def _asset_names(condition) -> list[str]:
    name = getattr(condition, "name", None)
    if name:
        return [name]
    names: list[str] = []
    for part in getattr(condition, "objects", []) or []:
        names.extend(_asset_names(part))
    return names


def schedule_of(dag) -> str:
    timetable = dag.timetable
    inner = getattr(timetable, "timetable", None)
    condition = getattr(timetable, "asset_condition", None)
    if inner is not None and condition is not None:
        assets = ", ".join(f"`{name}`" for name in _asset_names(condition))
        return f"{_cron(inner)}, and whenever the Asset {assets} is updated"
    if condition is not None:
        return "whenever the Asset " + ", ".join(f"`{n}`" for n in _asset_names(condition)) + " is updated"
    if getattr(timetable, "_expression", None) or getattr(timetable, "expression", None):
        return _cron(timetable)
    return f"`{dag.schedule!r}`"


def _ordered(dag) -> list:
    """The tasks upstream first; ties keep the order in which the DAG file declares them."""
    declared = list(dag.tasks)
    placed: list = []
    seen: set[str] = set()
    while len(placed) < len(declared):
        for task in declared:
            if task.task_id not in seen and task.upstream_task_ids <= seen:
                placed.append(task)
                seen.add(task.task_id)
                break
        else:  # a cycle cannot be parsed by Airflow; keep the rest as declared
            placed.extend(t for t in declared if t.task_id not in seen)
            break
    return placed


def _retries(task) -> str:
    if not task.retries:
        return "0"
    backoff = ", exponential" if task.retry_exponential_backoff else ""
    return f"{task.retries} (from {_duration(task.retry_delay)}{backoff})"


def section(dag) -> str:
    lines = [
        f"## `{dag.dag_id}`",
        "",
        f"Source: [`dags/{Path(dag.fileloc).name}`](../dags/{Path(dag.fileloc).name})",
    ]
    lines += ["", (dag.doc_md or "").strip(), "", f"#### `{dag.dag_id}` as scheduled", ""]
    lines += ["| | |", "|---|---|"]
    lines.append(f"| **Schedule** | {schedule_of(dag)} |")
    lines.append(
        f"| **Catch-up** | {'yes' if dag.catchup else 'no'}; at most {dag.max_active_runs} active run(s) |"
    )
    lines.append(f"| **Owner** | {dag.owner} |")
    lines.append(f"| **Tags** | {', '.join(f'`{t}`' for t in sorted(str(tag) for tag in dag.tags))} |")
    params = sorted(dag.params.keys()) if dag.params else []
    if params:
        lines.append(f"| **Params** | {', '.join(f'`{p}`' for p in params)} |")
    lines += [
        "",
        "| task | after | mapped | execution_timeout | retries | trigger rule |",
        "|---|---|---|---|---|---|",
    ]
    for task in _ordered(dag):
        after = ", ".join(f"`{u}`" for u in sorted(task.upstream_task_ids)) or "—"
        mapped = "yes" if "Mapped" in type(task).__name__ else "no"
        rule = str(getattr(task.trigger_rule, "value", task.trigger_rule))
        lines.append(
            f"| `{task.task_id}` | {after} | {mapped} | {_duration(task.execution_timeout)} | {_retries(task)} | {rule} |"
        )
    return "\n".join(lines) + "\n"


def render() -> str:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS))
    if bag.import_errors:
        raise SystemExit(f"DAG import errors: {bag.import_errors}")
    if not bag.dag_ids:
        raise SystemExit(f"no DAG found in {DAGS}")
    contents = ["## Contents", ""] + [f"* [`{d}`](#{d})" for d in sorted(bag.dag_ids)]
    parts = [HEADER, "\n".join(contents) + "\n"] + [section(bag.dags[d]) for d in sorted(bag.dag_ids)]
    return "\n".join(parts)


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not TARGET.exists() or TARGET.read_text(encoding="utf-8") != text:
            print(f"{TARGET.relative_to(ROOT)} is stale: run `{COMMAND}`", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""DAG parse time: each DAG file against an empty DAG file with the same Airflow imports.

Each file is parsed the way the DAG processor does it, in a fresh interpreter where Airflow is already
imported (its import cost is the same for every file): the time to execute the file's module code. The
baseline is a file that holds only the DAG file's ``airflow`` import lines and one empty DAG.
"""

from __future__ import annotations

import ast
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DAGS = ROOT / "dags"
REPEAT = 7

_TIMER = r"""
import importlib.util, json, sys, time
import airflow.sdk  # common to every file: not part of what is measured
path = sys.argv[1]
spec = importlib.util.spec_from_file_location("dagfile", path)
module = importlib.util.module_from_spec(spec)
start = time.perf_counter()
spec.loader.exec_module(module)
print(json.dumps(time.perf_counter() - start))
"""


def _airflow_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    lines = []
    for node in tree.body:
        if (isinstance(node, ast.ImportFrom) and (node.module or "").startswith("airflow")) or (
            isinstance(node, ast.Import) and any(a.name.startswith("airflow") for a in node.names)
        ):
            lines.append(ast.unparse(node))
    return lines


def _baseline(path: Path, folder: Path) -> Path:
    body = [
        *_airflow_imports(path),
        "from airflow.sdk import DAG",
        "",
        "with DAG('empty_baseline', schedule=None):",
        "    pass",
    ]
    target = folder / f"baseline_{path.stem}.py"
    target.write_text("\n".join(body) + "\n", encoding="utf-8")
    return target


def _time(path: Path) -> float:
    runs = []
    for _ in range(REPEAT):
        out = subprocess.run(
            [sys.executable, "-c", _TIMER, str(path)], capture_output=True, text=True, check=True, cwd=ROOT
        )
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return statistics.median(runs)


def run() -> dict[str, float]:
    ratios = {}
    with tempfile.TemporaryDirectory() as tmp:
        for path in sorted(DAGS.glob("*.py")):
            dag_time = _time(path)
            base_time = _time(_baseline(path, Path(tmp)))
            ratio = dag_time / base_time
            ratios[path.stem] = ratio
            print(
                f"{path.name:32s} parse {dag_time * 1000:7.1f} ms   empty DAG {base_time * 1000:6.1f} ms   ratio {ratio:5.2f}"
            )
    return ratios


if __name__ == "__main__":
    for name, ratio in run().items():
        print(f"dag_parse_{name}_vs_empty: {ratio:.2f}")

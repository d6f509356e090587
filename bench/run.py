"""``make bench``: every benchmark, each figure a ratio to a baseline measured in the same run."""

from __future__ import annotations

import sys
from pathlib import Path

# the product, the dev kit (the feed simulator) and the benchmarks themselves, also without `make`
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "devkit"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import dag_parse
import feeds


def main() -> None:
    print("== DAG parse time (ratio to an empty DAG file with the same Airflow imports)")
    ratios = dag_parse.run()
    print()
    print("== Job feeds on PostgreSQL: extraction, initial load and reload of 1,000,000 postings")
    feeds.main()  # ends with load_vs_copy, reload_vs_copy and extract_vs_download
    for name, ratio in ratios.items():
        print(f"dag_parse_{name}_vs_empty: {ratio:.2f}")


if __name__ == "__main__":
    main()

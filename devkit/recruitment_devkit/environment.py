"""The project's environment, in one place: ``include/config/dev.env``.

``apply()`` sets every variable of that file that the environment does not already set, expanding
``${PROJECT_ROOT}``. Make targets run commands through ``python -m recruitment_devkit.environment CMD``
and the tests call ``apply()`` before importing Airflow, so the UI, the CLI, the demo and the tests all
see the same settings. Production sets its own environment; nothing here overrides it.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ENV_FILE = PROJECT_ROOT / "include" / "config" / "dev.env"
_LINE = re.compile(r"^([A-Z][A-Z0-9_]*)=(.*)$")


def read(path: Path = ENV_FILE, root: Path = PROJECT_ROOT) -> dict[str, str]:
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if not match:
            raise ValueError(f"{path}:{number}: expected NAME=value, found {raw!r}")
        values[match.group(1)] = match.group(2).replace("${PROJECT_ROOT}", str(root))
    return values


def apply(overrides: dict[str, str] | None = None) -> dict[str, str]:
    """Set the defaults that the environment lacks; ``overrides`` win over both."""
    for name, value in read().items():
        os.environ.setdefault(name, value)
    for name, value in (overrides or {}).items():
        os.environ[name] = value
    Path(os.environ["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    Path(os.environ["RECRUITMENT_DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    return dict(os.environ)


def main(argv: list[str]) -> None:
    apply()
    if not argv:
        for name in read():
            print(f"{name}={os.environ[name]}")
        return
    os.execvp(argv[0], argv)  # noqa: S606 - runs the command the Makefile names


if __name__ == "__main__":
    main(sys.argv[1:])

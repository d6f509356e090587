"""How the project is installed and served locally: hashed, verified pins; a UI bound to this machine."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"


def _lock_entries() -> dict[str, list[str]]:
    """Each pin of requirements.lock (``name==version``) → its hashes."""
    entries: dict[str, list[str]] = {}
    current = None
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        pin = re.match(r"^([A-Za-z0-9_.-]+(?:\[[^]]*\])?==\S+)", line)
        if pin:
            current = pin.group(1)
            entries[current] = []
        hashed = re.search(r"--hash=sha256:([0-9a-f]{64})", line)
        if hashed and current:
            entries[current].append(hashed.group(1))
        if not line.startswith(" ") and not pin:
            current = None
    return entries


def test_every_pin_of_the_lock_carries_hashes():
    entries = _lock_entries()
    assert len(entries) > 150
    assert not [pin for pin, hashes in entries.items() if not hashes]
    assert "defusedxml==0.7.1" in entries, "openpyxl parses workbooks with defusedxml when it is present"


def test_the_lock_pins_every_direct_requirement_exactly_as_requirements_txt():
    pins = {p.split("==")[0].lower().replace("_", "-"): p.split("==")[1] for p in _lock_entries()}
    for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines():
        exact = re.match(r"^([A-Za-z0-9_.-]+)(?:\[[^]]*\])?==(\S+)$", line.strip())
        if exact:
            assert pins[exact.group(1).lower().replace("_", "-")] == exact.group(2), line


def test_installs_require_the_hashes():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    install = next(
        line for line in makefile.splitlines() if "uv pip install" in line and "requirements.lock" in line
    )
    assert "--require-hashes" in install
    compile_ = next(line for line in makefile.splitlines() if "uv pip compile" in line)
    assert "--generate-hashes" in compile_ and "-o requirements.lock" in compile_
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^RUN pip install .*--require-hashes -r \S*requirements\.lock$", dockerfile, re.M)


def test_make_airflow_serves_the_ui_on_localhost_only():
    """`make airflow` sets the API server's host; Airflow's own command line then binds 127.0.0.1."""
    dry = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-n",
            "-W",
            "requirements.lock",
            "-o",
            ".venv/.installed",
            "airflow",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (line,) = [line for line in dry.splitlines() if line.rstrip().endswith("airflow standalone")]
    settings = dict(re.findall(r"\b(AIRFLOW__[A-Z_]+)=(\S+)", line))
    assert settings.get("AIRFLOW__API__HOST") == "127.0.0.1", line
    parsed = subprocess.run(
        [
            sys.executable,
            "-c",
            "from airflow.cli import cli_parser; print(cli_parser.get_parser().parse_args(['api-server']).host)",
        ],
        env={**os.environ, **settings},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert parsed.stdout.strip().splitlines()[-1] == "127.0.0.1"

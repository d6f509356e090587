"""How the project is installed and served locally: hashed, verified pins; a UI bound to this machine."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
DEV_LOCK = ROOT / "requirements-dev.lock"
TEST_TOOLS = {"pytest", "pytest-timeout", "ruff", "selenium", "check-jsonschema", "aiosmtpd", "sqlfluff"}


def _lock_entries(lock: Path = LOCK) -> dict[str, list[str]]:
    """Each pin of a lock (``name==version``) → its hashes."""
    entries: dict[str, list[str]] = {}
    current = None
    for line in lock.read_text(encoding="utf-8").splitlines():
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


def _pins(lock: Path = LOCK) -> dict[str, str]:
    """name → version of each pin of a lock, names normalised."""
    return {
        re.sub(r"\[.*\]", "", p.split("==")[0]).lower().replace("_", "-"): p.split("==")[1]
        for p in _lock_entries(lock)
    }


def _direct(requirements: str) -> set[str]:
    names = set()
    for line in (ROOT / requirements).read_text(encoding="utf-8").splitlines():
        name = re.match(r"^([A-Za-z0-9_.-]+)", line.strip())
        if name:
            names.add(name.group(1).lower().replace("_", "-"))
    return names


def test_the_lock_pins_every_direct_requirement_exactly_as_requirements_txt():
    pins = _pins()
    for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines():
        exact = re.match(r"^([A-Za-z0-9_.-]+)(?:\[[^]]*\])?==(\S+)$", line.strip())
        if exact:
            assert pins[exact.group(1).lower().replace("_", "-")] == exact.group(2), line
    assert _direct("requirements.txt") <= set(pins)


def test_the_runtime_lock_holds_no_test_or_development_tool():
    assert not TEST_TOOLS & set(_pins()), "the production image installs requirements.lock"
    assert not TEST_TOOLS & _direct("requirements.txt")
    assert _direct("requirements-dev.txt") == TEST_TOOLS


def test_the_development_lock_is_hashed_and_agrees_with_the_runtime_lock():
    entries = _lock_entries(DEV_LOCK)
    assert not [pin for pin, hashes in entries.items() if not hashes]
    dev, runtime = _pins(DEV_LOCK), _pins()
    assert set(dev) >= TEST_TOOLS
    assert {
        name: (v, runtime[name]) for name, v in dev.items() if name in runtime and runtime[name] != v
    } == {}


def test_installs_require_the_hashes():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    install = next(
        line for line in makefile.splitlines() if "uv pip install" in line and "requirements.lock" in line
    )
    assert "--require-hashes" in install
    assert "-r requirements.lock -r requirements-dev.lock" in install, "a developer's .venv holds both"
    compiles = [line for line in makefile.splitlines() if "uv pip compile" in line]
    assert len(compiles) == 2
    assert all("--generate-hashes" in line for line in compiles)
    assert "requirements.txt" in compiles[0]
    assert "-o requirements.lock" in compiles[0]
    assert "requirements-dev.txt -c requirements.lock" in compiles[1]
    assert "-o requirements-dev.lock" in compiles[1]
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

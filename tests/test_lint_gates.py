"""The lint and warning gates hold: C901 and PLR0913 are selected and never silenced, and a deprecation
warning fails a test, Airflow's own included."""

from __future__ import annotations

import re
import tomllib
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GATES = ("C901", "PLR0913")


def _ruff_lint() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["ruff"]["lint"]


def test_complexity_and_argument_gates_are_selected_with_their_defaults():
    lint = _ruff_lint()
    assert set(GATES) <= set(lint["select"])
    assert lint["mccabe"]["max-complexity"] == 10
    assert lint["pylint"]["max-args"] == 5


def test_the_gates_are_never_silenced():
    ignored = [rule for rules in _ruff_lint().get("per-file-ignores", {}).values() for rule in rules]
    assert not set(ignored) & {*GATES, "DTZ", "C90", "PLR"}
    assert not set(_ruff_lint().get("ignore", [])) & {*GATES, "DTZ", "C90", "PLR"}
    pattern = re.compile(r"#\s*noqa:[^\n]*\b(C901|PLR0913)\b")
    silenced = [
        str(path.relative_to(ROOT))
        for folder in ("plugins", "dags", "devkit", "tests", "bench", "tools")
        for path in (ROOT / folder).rglob("*.py")
        if pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert silenced == []


@pytest.mark.parametrize(
    "category",
    [
        "builtins.DeprecationWarning",
        "builtins.PendingDeprecationWarning",
        "airflow.exceptions.RemovedInAirflow4Warning",
        "airflow.exceptions.AirflowProviderDeprecationWarning",
        "airflow.sdk.exceptions.RemovedInAirflow4Warning",
    ],
)
def test_a_deprecation_fails_the_test(category):
    import importlib

    module, _, name = category.rpartition(".")
    warning = getattr(importlib.import_module(module), name)
    with pytest.raises(warning, match="gone in the next major version"):
        warnings.warn("gone in the next major version", warning, stacklevel=1)

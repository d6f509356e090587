"""The runtime package stands alone: it imports, module by module, with only plugins/ on the path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Alembic's environment script runs a migration when imported; it is loaded by Alembic, not imported.
IMPORT_ALL = """
import importlib, pkgutil, sys
import recruitment_month
names = [m.name for m in pkgutil.walk_packages(recruitment_month.__path__, "recruitment_month.")
         if not m.name.startswith("recruitment_month.migrations")]
for name in names:
    importlib.import_module(name)
assert len(names) > 30, names
leaked = sorted(m for m in sys.modules if m.split(".")[0] == "recruitment_devkit")
assert not leaked, leaked
print(len(names))
"""


def test_every_module_of_the_runtime_package_imports_without_the_dev_kit():
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL],
        env={"PYTHONPATH": str(ROOT / "plugins")},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]


def test_the_dev_kit_is_not_part_of_the_runtime_package():
    package = ROOT / "plugins" / "recruitment_month"
    moved = ["environment.py", "demo.py", "distributed.py", "mailsink.py", "feeds/simulator.py"]
    moved += ["reports/demo.py", "summary/sample.py"]
    assert not [name for name in moved if (package / name).exists()]
    assert (ROOT / "devkit" / "recruitment_devkit" / "__init__.py").is_file()

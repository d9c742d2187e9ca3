"""The import graph keeps the layering docs/architecture.md draws: each app imports only
from the apps below it (``portal ← consortia ← evaluations ← gpu_allocation ← awards,
reporting, results``), and no two modules of an app import each other, not even from inside
a function. ``lint-imports`` reads the contracts from pyproject.toml."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_no_upward_import_and_no_cycle():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout, result.stdout

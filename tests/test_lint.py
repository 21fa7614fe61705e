"""The repository is clean under the ruff rule set pinned in pyproject.toml ([tool.ruff.lint])."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The minor version the selection in pyproject.toml is pinned for (the `lint` extra): another
# minor version may add rules under the selected prefixes, so its findings say nothing here.
PINNED_MINOR = (0, 17)


def _ruff_command() -> list[str] | None:
    if importlib.util.find_spec("ruff") is not None:
        return [sys.executable, "-m", "ruff"]
    executable = shutil.which("ruff")
    return [executable] if executable else None


def test_ruff_check_reports_no_findings():
    command = _ruff_command()
    if command is None:
        pytest.skip("ruff is not installed (python -m pip install -e '.[lint]')")
    version = subprocess.run([*command, "--version"], capture_output=True, text=True, check=True)
    found = re.search(r"(\d+)\.(\d+)\.\d+", version.stdout)
    if found is None or (int(found[1]), int(found[2])) != PINNED_MINOR:
        pytest.skip(f"{version.stdout.strip()} installed; the rule set is pinned for ruff "
                    f"{PINNED_MINOR[0]}.{PINNED_MINOR[1]}.x")
    # --no-cache: the test writes nothing into the repository.
    result = subprocess.run(
        [*command, "check", "--no-cache", "--output-format", "concise", "."],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr

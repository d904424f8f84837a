"""The pieces of .ci/run (continuous integration), tried one by one in bash."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def bash(script: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", f"set -euo pipefail; source .ci/lib.sh; {script}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_ci_runs_exactly_the_readme_test_command():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- test-command -->")[1].split("<!-- /test-command -->")[0]
    (line,) = [row for row in block.splitlines() if row.strip() and not row.startswith("```")]
    result = bash("readme_test_command")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == line


def test_a_venv_made_through_the_python_shim_outlives_the_shim(tmp_path):
    """A second .ci/run, or `mkdocs serve`, reuses the .venv after the shim is gone."""
    shim, venv = tmp_path / "shim", tmp_path / "venv"
    shim.mkdir()
    result = bash(
        f'make_python_shim "{sys.executable}" "{shim}"; '
        f'"{shim}/python3.12" -m venv --without-pip "{venv}"; rm -r "{shim}"; '
        f'"{venv}/bin/python" -c "import sys; print(sys.prefix)"'
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(venv)

"""The code base passes ruff's linter and formatter (configured in pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "arguments", [["check", "."], ["format", "--check", "."]], ids=["check", "format"]
)
def test_ruff(arguments):
    result = subprocess.run(
        [sys.executable, "-m", "ruff", *arguments],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"ruff {' '.join(arguments)}:\n{result.stdout}{result.stderr}"


def test_mypy():
    """Type-checks ebm_book (every function typed) and book_site, as configured in pyproject.toml."""
    result = subprocess.run(
        [sys.executable, "-m", "mypy"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, f"mypy:\n{result.stdout}{result.stderr}"


def tracked_text_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    suffixes = {".py", ".md", ".yml", ".yaml", ".toml", ".css", ".js", ".sh", ".cfg", ".txt"}
    return [
        REPO_ROOT / name
        for name in listed
        if Path(name).suffix in suffixes and "vendor" not in Path(name).parts
    ]


def test_text_files_end_with_one_newline():
    """What pre-commit's end-of-file-fixer enforces (see .pre-commit-config.yaml)."""
    bad = []
    for path in tracked_text_files():
        data = path.read_bytes() if path.exists() else b"\n"
        if data and (not data.endswith(b"\n") or data.endswith(b"\n\n")):
            bad.append(str(path.relative_to(REPO_ROOT)))
    assert not bad, f"files that do not end with exactly one newline: {bad}"


def test_the_version_is_written_once():
    import importlib.metadata

    import ebm_book

    pyproject = (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'dynamic = ["version"]' in pyproject and "\nversion =" not in pyproject.split("[tool")[0]
    assert importlib.metadata.version("ebm-book") == ebm_book.__version__

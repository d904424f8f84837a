"""Build a one-chapter book in a temporary folder, as the real build does, for tests of the
build itself (the book_site plugin, failing claims)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

NOTEBOOK_PLUGIN = """\
  - mkdocs-jupyter:
      include: ["chapters/*.py"]
      execute: true
      allow_errors: false
      kernel_name: python3
      markdown_cell_processor: mkdocs
      remove_tag_config:
        remove_input_tags: [prose]
"""


def build_mini_book(
    root: Path,
    chapter: str | dict[str, str],
    name: str = "tiny",
    book_plugin: bool = False,
    jobs: int = 1,
) -> subprocess.CompletedProcess:
    """Write ``chapter`` (jupytext source) as the only chapter of a book in ``root``, or
    several (a dict of name to source), and run ``mkdocs build --strict``; with
    ``book_plugin`` the book's own ``ebm-book`` plugin runs after the notebook plugin, as
    in ``mkdocs.yml``, executing ``jobs`` chapters at a time. Returns the finished
    process."""
    chapters = chapter if isinstance(chapter, dict) else {name: chapter}
    (root / "docs" / "chapters").mkdir(parents=True)
    (root / "docs" / "index.md").write_text("# Home\n", encoding="utf-8")
    for each, source in chapters.items():
        (root / "docs" / "chapters" / f"{each}.py").write_text(source, encoding="utf-8")
    config = (
        "site_name: mini\n"
        "extra:\n  repository: owner/book\n"
        "theme: {name: material}\n"
        "markdown_extensions:\n  - pymdownx.arithmatex: {generic: true}\n"
        "plugins:\n" + NOTEBOOK_PLUGIN + ("  - ebm-book\n" if book_plugin else "")
    )
    (root / "mkdocs.yml").write_text(config, encoding="utf-8")
    environment = {
        **os.environ,
        "NO_MKDOCS_2_WARNING": "1",
        "EBM_BOOK_NOTEBOOK_CACHE": str(root / "cache"),
        "EBM_BOOK_JOBS": str(jobs),
    }
    environment.pop("EBM_BOOK_CLAIMS_LOG", None)  # claims must raise, as in a real build
    command = [
        sys.executable,
        "-m",
        "mkdocs",
        "build",
        "--strict",
        "--site-dir",
        str(root / "site"),
    ]
    return subprocess.run(
        command, cwd=root, env=environment, capture_output=True, text=True, timeout=300
    )

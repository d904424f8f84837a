"""Finished chapter pages, cached: a rebuild that changes nothing does not finish them again.

The plugin works on each chapter page twice (``plugin.on_page_content``: notebook
buttons, solution boxes, plain code cells; ``plugin.on_post_page``: math, figure
descriptions, the shared stylesheet, palette figures). Each time it parses a page of
about a megabyte and writes it out again: before this cache, the largest part of a warm
rebuild. The result depends only on the page as the plugins before leave it, on a few
inputs named by the caller (the chapter's source, for its figure descriptions; the
page's URL, for relative links) and on the build code, so it is kept under a key made
of them.

Two things make a cached page the same as a finished one:

- finishing also writes files into the site (the shared notebook stylesheet): they are
  kept with the page and written again on a hit;
- a page whose finishing warned (a figure without a description) is never kept, so a
  strict rebuild warns, and fails, again.

Entries that the last build did not use are removed at its end (``remove_unused``).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path

FOLDER = Path(".cache") / "finished-pages"


def build_code_digest() -> str:
    """A digest of the build code (this package): a change to it finishes every page again."""
    digest = hashlib.sha256()
    for module in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(module.read_bytes())
    return digest.hexdigest()


class _WarningCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


class FinishedPages:
    """The cache of one build: ``finished(...)`` returns a page, finishing it on a miss."""

    def __init__(self, project_root: Path) -> None:
        self.folder = project_root / FOLDER
        self.code = build_code_digest()
        self.used: set[str] = set()

    def key(self, page: str, *inputs: str | bytes) -> str:
        digest = hashlib.sha256(self.code.encode())
        for part in (page, *inputs):
            digest.update(b"\0" + (part.encode() if isinstance(part, str) else part))
        return digest.hexdigest()[:32]

    def finished(
        self,
        page: str,
        inputs: list[str | bytes],
        site_dir: str,
        finish: Callable[[str], tuple[str, list[str]]],
    ) -> str:
        """The finished page, from the cache or from ``finish(page)``, which returns the
        page and the site paths of the files it wrote."""
        key = self.key(page, *inputs)
        self.used.add(key)
        entry = self.folder / f"{key}.json"
        if entry.exists():
            kept = json.loads(entry.read_text(encoding="utf-8"))
            for path, text in kept["files"].items():
                target = Path(site_dir) / path
                if not target.exists():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_text(text, encoding="utf-8")
            return str(kept["html"])
        counter = _WarningCounter()
        logging.getLogger("mkdocs").addHandler(counter)
        try:
            html, written = finish(page)
        finally:
            logging.getLogger("mkdocs").removeHandler(counter)
        if counter.count == 0:
            files = {path: (Path(site_dir) / path).read_text(encoding="utf-8") for path in written}
            self.folder.mkdir(parents=True, exist_ok=True)
            entry.write_text(json.dumps({"html": html, "files": files}), encoding="utf-8")
        return html

    def remove_unused(self) -> None:
        """Delete the entries this build did not use: no later build can hit them either,
        unless it undoes an edit."""
        if not self.folder.is_dir():
            return
        for entry in self.folder.glob("*.json"):
            if entry.stem not in self.used:
                entry.unlink()

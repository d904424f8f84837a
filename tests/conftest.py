"""Shared fixtures for the site tests: build the book once, serve it locally.

``built_site`` runs ``mkdocs build --strict`` a single time per test session,
into a temporary folder and with its own empty notebook cache, so every chapter
really executes. ``site_url`` serves that folder on 127.0.0.1 for the browser
tests. Tests that take a ``page_path`` argument run once per page of the nav
(``""`` for the home page, ``"chapters/01_energy_functions/"``, ...); tests that
take a ``chapter_file`` argument run once per ``docs/chapters/*.py``.
"""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

# Chapter kernels started by the tests (chapter execution, Colab-style notebooks) inherit
# this: one math thread, as in the site build (see book_site/execution.py).
os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCS_DIR = REPO_ROOT / "docs"
BUILD_TIMEOUT_S = 30 * 60


@dataclass(frozen=True)
class BuiltSite:
    """The result of one ``mkdocs build --strict``."""

    site_dir: Path
    log: str
    seconds: float


def nav_sources(nav=None) -> list[str]:
    """Source paths of every page in mkdocs.yml's nav, in reading order."""
    if nav is None:
        config = yaml.safe_load((REPO_ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
        nav = config["nav"]
    sources = []
    for entry in nav:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        sources += nav_sources(value) if isinstance(value, list) else [value]
    return sources


def url_path(source: str) -> str:
    """URL path of a page, relative to the site root (directory URLs)."""
    stem = source.rsplit(".", 1)[0]
    if stem == "index":
        return ""
    if stem.endswith("/index"):
        return stem.removesuffix("index")
    return stem + "/"


@pytest.fixture(scope="session")
def nav_page_paths() -> list[str]:
    return [url_path(source) for source in nav_sources()]


SLOW_MODULES = {"test_chapters", "test_browser", "test_notebooks", "test_site"}


def pytest_collection_modifyitems(config, items):
    """Mark what builds the site or executes whole chapters as ``slow``: ``pytest -m "not
    slow"`` runs everything else (the unit tests and doctests) in about a minute."""
    for item in items:
        if item.path.stem in SLOW_MODULES and item.path.parent.name == "tests":
            item.add_marker(pytest.mark.slow)
    deselect_chapter_runs_that_the_notebooks_repeat(config, items)


def deselect_chapter_runs_that_the_notebooks_repeat(config, items) -> None:
    """Run each chapter once in a fresh kernel, not twice.

    ``test_chapters`` runs a chapter's source in a fresh kernel (a quick check of one
    chapter without building the site); ``test_notebooks`` runs the notebook published
    from it, every cell of the source plus a set-up cell, in a fresh kernel too, with the
    package installed from a wheel. When a run collects both for a chapter, the first
    adds nothing but minutes, and is left out.
    """
    in_colab = {
        item.callspec.id
        for item in items
        if item.path.stem == "test_notebooks"
        and item.originalname == "test_notebook_runs_as_in_colab"
    }
    repeated = [
        item for item in items if item.path.stem == "test_chapters" and item.callspec.id in in_colab
    ]
    if repeated:
        config.hook.pytest_deselected(items=repeated)
        items[:] = [item for item in items if item not in repeated]


SCHEMES = ("light", "dark")  # the browser's colour-scheme preference


def pytest_generate_tests(metafunc):
    """Parametrize ``page_path`` (every nav page), ``scheme`` (light and dark) and
    ``chapter_file``. Pages in both schemes, except the API reference's, whose pages share
    one stylesheet and no figures: light only."""
    scheme_marked = any(
        mark.args[0] == "scheme" for mark in metafunc.definition.iter_markers("parametrize")
    )
    wants_scheme = "scheme" in metafunc.fixturenames and not scheme_marked
    if "page_path" in metafunc.fixturenames:
        paths = [url_path(source) for source in nav_sources()]
        if wants_scheme:
            combos = [
                (path, scheme)
                for path in paths
                for scheme in SCHEMES
                if scheme == "light" or not path.startswith("api/")
            ]
            ids = [f"{scheme}-{path or 'home'}" for path, scheme in combos]
            metafunc.parametrize(("page_path", "scheme"), combos, ids=ids)
        else:
            metafunc.parametrize("page_path", paths, ids=[p or "home" for p in paths])
    elif wants_scheme:
        metafunc.parametrize("scheme", SCHEMES)
    if "chapter_file" in metafunc.fixturenames:
        chapters = sorted((DOCS_DIR / "chapters").glob("*.py"))
        metafunc.parametrize("chapter_file", chapters, ids=[c.stem for c in chapters])


@pytest.fixture(scope="session")
def site_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("book") / "site"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # keep the test output readable
        pass


@pytest.fixture(scope="session")
def http_server(site_dir):
    """A server for the site, bound to a free port before the build.

    The build needs the address: Material's instant navigation only takes over
    links to pages listed in sitemap.xml, whose URLs come from ``site_url``,
    port included.
    """
    handler = functools.partial(_QuietHandler, directory=str(site_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    yield server
    server.server_close()


@pytest.fixture(scope="session")
def built_site(site_dir, http_server) -> BuiltSite:
    """Build the whole book once, executing every chapter; fail with the build log."""
    env = {
        **os.environ,
        "NO_MKDOCS_2_WARNING": "1",
        "SITE_URL": f"http://127.0.0.1:{http_server.server_port}/",
        # A fresh cache: a build that passes only thanks to cached results proves nothing.
        "EBM_BOOK_NOTEBOOK_CACHE": str(site_dir.parent / "notebook-cache"),
    }
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site_dir)]
    start = time.perf_counter()
    result = subprocess.run(
        command,
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
    )
    seconds = time.perf_counter() - start
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"`mkdocs build --strict` failed:\n{log}"
    return BuiltSite(site_dir=site_dir, log=log, seconds=seconds)


@pytest.fixture(scope="session")
def site_url(built_site, http_server):
    """Base URL (ending in '/') of the built site, served on 127.0.0.1."""
    thread = threading.Thread(target=http_server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http_server.server_port}/"
    http_server.shutdown()

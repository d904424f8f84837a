"""Run the chapters safely: a cache keyed on the package, cell timeouts, clear errors.

Every chapter is a jupytext ``.py`` page that mkdocs-jupyter executes at build
time. Three things about that are not handled by the plugin itself, and this module
handles them (the plugin's two functions it wraps are wrapped through
``markup.wrap_plugin_function``, which fails the build clearly if they change):

1. **The cache must know about ``ebm_book``.** mkdocs-jupyter caches an
   executed page under a key computed from the page's own source and the plugin
   options only. Chapters import ``ebm_book``, so editing the package changes
   their figures without changing that key, and stale figures would survive.
   The build gives each version of the package its own cache directory, named
   by a hash of every file under ``ebm_book/``. Changing any of those files
   re-executes every chapter; an unchanged rebuild executes nothing.
2. **A hanging cell must fail the build**, not hang it. The plugin has no
   timeout option, so we set nbclient's per-cell ``timeout`` on the app it uses.
3. **Errors must name the chapter.** A failing or timed-out cell is reported as
   ``<chapter>: ...`` followed by nbclient's own message (the cell and traceback). A
   claim of the text that the run no longer supports (``ebm_book.claims``) is reported
   as ``<chapter>: claim no longer holds: '<the claim>' (<its numbers>)``.

Environment variables (used by the tests and the benchmark):

``EBM_BOOK_NOTEBOOK_CACHE``
    Directory holding the per-package cache directories
    (default: the plugin's ``cache_dir``, ``.cache/mkdocs-jupyter``).
``EBM_BOOK_CELL_TIMEOUT``
    Seconds a single cell may run (default 300).
``EBM_BOOK_SEED_SHIFT``
    Shifts every seed of the book (``ebm_book.seeds``); shifted builds get their own cache.
``EBM_BOOK_JOBS``
    How many chapters execute at once (default: the number of processors available).

4. **Chapters execute in parallel.** Each kernel computes on one thread
   (``single_threaded_kernels``), so a machine with two cores can run two chapters at
   once. Before MkDocs renders the pages one by one, ``execute_in_parallel`` runs the
   plugin's own conversion of every chapter in a pool of threads, which fills the
   cache; the page pass then finds each chapter there.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import mkdocs_jupyter.convert
import mkdocs_jupyter.nbconvert2
from mkdocs.exceptions import PluginError
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

from . import provenance
from .markup import PLUGIN, notebook_converter, wrap_plugin_function

log = logging.getLogger("mkdocs.plugins.ebm-book.execution")

PACKAGE_DIR = "ebm_book"
CACHE_PREFIX = "ebm_book-"
DEFAULT_CELL_TIMEOUT_S = 300

EXECUTED: set[str] = set()  # the chapters this build executed (the others came from the cache)


def package_digest(package_dir: Path) -> str:
    """Hash of the names and bytes of every file in the package (bytecode excluded)."""
    digest = hashlib.sha256()
    for path in sorted(package_dir.rglob("*")):
        if path.is_dir() or "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        digest.update(path.relative_to(package_dir).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def seed_shift_suffix() -> str:
    """``-shift<k>`` when the seeds are shifted (``EBM_BOOK_SEED_SHIFT=k``, see ebm_book.seeds).

    A shifted build computes other numbers, so it must neither read nor overwrite the
    cache of the default seeds.
    """
    shift = os.environ.get("EBM_BOOK_SEED_SHIFT", "").strip()
    return f"-shift{shift}" if shift not in ("", "0") else ""


def cell_timeout_s() -> int:
    return int(os.environ.get("EBM_BOOK_CELL_TIMEOUT", DEFAULT_CELL_TIMEOUT_S))


def encrypt_kernel_channels(config) -> None:
    """Have the chapter kernels' local connections encrypted, where the installed stack can.

    Recent kernels warn at start-up, once per chapter, that they talk "over TCP without
    encryption". Newer jupyter_client versions can provision CurveZMQ keys for kernels
    that declare support; older ones, or a pyzmq built without CurveZMQ, keep plain
    local connections, as before.
    """
    import zmq
    from jupyter_client.manager import KernelManager

    if zmq.has("curve") and KernelManager.class_traits().get("transport_encryption"):
        config["KernelManager"]["transport_encryption"] = "auto"


def encrypted_kernel_config():
    """A traitlets ``Config`` for kernels started outside the build (nbclient's
    ``NotebookClient(..., config=...)``: the tests, ``scripts/check_claims.py``), with the
    same encryption as the build's kernels."""
    from traitlets.config import Config

    config = Config()
    encrypt_kernel_channels(config)
    return config


def _with_cell_timeout(get_nbconvert_app):
    """Wrap the plugin's app factory so every executed cell gets a timeout."""

    def wrapper(*args, **kwargs):
        app = get_nbconvert_app(*args, **kwargs)
        # The plugin stores this section as a plain dict: set the key, keep the rest.
        app.config["ExecutePreprocessor"]["timeout"] = cell_timeout_s()
        encrypt_kernel_channels(app.config)
        return app

    return wrapper


def _naming_the_chapter(nb2html, docs_dir: Path, cache_dir: str):
    """Wrap the plugin's notebook conversion: log timings, record them for the provenance
    page, name the chapter in errors."""

    def wrapper(nb_path, *args, **kwargs):
        chapter = Path(nb_path).resolve().relative_to(docs_dir).as_posix()
        if not kwargs.get("execute"):
            return nb2html(nb_path, *args, **kwargs)
        log.info("Executing chapter %s", chapter)
        start = time.perf_counter()
        try:
            html = provenance.measuring(
                lambda: nb2html(nb_path, *args, **kwargs), cache_dir, chapter, EXECUTED
            )
        except CellTimeoutError as error:
            raise PluginError(
                f"{chapter}: a cell ran longer than {cell_timeout_s()} s "
                f"(EBM_BOOK_CELL_TIMEOUT) and was stopped.\n{error}"
            ) from error
        except CellExecutionError as error:
            if error.ename == "ClaimError":  # the text says something this run does not support
                raise PluginError(f"{chapter}: {error.evalue}\n{error}") from error
            raise PluginError(f"{chapter}: a cell raised an error.\n{error}") from error
        except DeadKernelError as error:
            raise PluginError(f"{chapter}: the kernel died.\n{error}") from error
        log.info("Executed chapter %s in %.1f s", chapter, time.perf_counter() - start)
        return html

    return wrapper


def single_threaded_kernels() -> None:
    """Run chapter kernels with one math thread (unless the caller chose otherwise).

    The chapters do many thousands of small tensor operations (a Langevin step on 2-D
    points, a small network). PyTorch's thread pool gains nothing on those and, when the
    machine is busy, loses a lot: Chapter 2 ran in 12.7 s with one thread and 24.4 s with
    two on this 2-core machine while another process was computing. Kernels inherit the
    build's environment, so setting it here covers every chapter.
    """
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def configure(config) -> None:
    """Key the notebook cache on ``ebm_book``, and wrap the plugin's conversion."""
    single_threaded_kernels()
    EXECUTED.clear()  # a new build (mkdocs serve rebuilds in the same process)
    plugin = config.plugins.get(PLUGIN)
    if plugin is None:
        raise PluginError(f"the ebm-book plugin needs the {PLUGIN} plugin, configured before it")
    project_root = Path(config.config_file_path).resolve().parent
    cache_root = Path(os.environ.get("EBM_BOOK_NOTEBOOK_CACHE") or plugin.config["cache_dir"])
    cache_root = (project_root / cache_root).resolve()
    digest = package_digest(project_root / PACKAGE_DIR)[:16]
    plugin.config["cache_dir"] = str(cache_root / f"{CACHE_PREFIX}{digest}{seed_shift_suffix()}")
    log.debug("Notebook cache for this version of %s: %s", PACKAGE_DIR, plugin.config["cache_dir"])

    docs_dir = Path(config.docs_dir).resolve()
    wrap_plugin_function(
        mkdocs_jupyter.nbconvert2,
        "get_nbconvert_app",
        ["execute", "kernel_name", "allow_errors"],
        _with_cell_timeout,
    )
    wrap_plugin_function(
        mkdocs_jupyter.convert,
        "nb2html",
        ["nb_path", "execute"],
        lambda nb2html: _naming_the_chapter(nb2html, docs_dir, plugin.config["cache_dir"]),
    )


def remove_old_caches(config) -> None:
    """Delete the caches of older versions of the package: they can never be hit again."""
    current = Path(config.plugins[PLUGIN].config["cache_dir"])
    if not current.parent.is_dir():
        return
    this_version = current.name[: len(CACHE_PREFIX) + 16]  # the caches of every seed shift
    for old in current.parent.glob(f"{CACHE_PREFIX}*"):
        if old.is_dir() and not old.name.startswith(this_version):
            shutil.rmtree(old)
            log.info("Removed the notebook cache of an older %s: %s", PACKAGE_DIR, old.name)


def parallel_jobs() -> int:
    """``EBM_BOOK_JOBS``, or the number of processors this process may use."""
    chosen = os.environ.get("EBM_BOOK_JOBS", "").strip()
    if chosen:
        if not chosen.isdigit() or int(chosen) < 1:
            raise PluginError(f"EBM_BOOK_JOBS must be a whole number >= 1, got {chosen!r}")
        return int(chosen)
    available = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return len(available) if available else os.cpu_count() or 1


def _fill_cache(file, config, files) -> None:
    """Execute one chapter (or read it from the cache) as the page pass would: the real
    page is rendered later and then finds the result cached."""
    notebook_converter(config.plugins[PLUGIN], file.page, config, files)()


def execute_in_parallel(chapters: list, config, files, jobs: int | None = None) -> None:
    """Fill the notebook cache for every chapter, ``jobs`` chapters at a time.

    Chapters are started from the last one: the later chapters take longest, and
    starting the longest first keeps every processor busy until the end. The first
    error stops the chapters not yet started and fails the build, naming the chapter.
    """
    jobs = parallel_jobs() if jobs is None else jobs
    pages = [file for file in chapters if file.page is not None]
    if jobs < 2 or len(pages) < 2:
        return  # the page pass executes them one by one, as mkdocs-jupyter alone would
    start, jobs = time.perf_counter(), min(jobs, len(pages))
    with ThreadPoolExecutor(jobs, thread_name_prefix="chapter") as pool:
        futures = [pool.submit(_fill_cache, file, config, files) for file in reversed(pages)]
        try:
            for future in as_completed(futures):
                future.result()  # the first chapter to fail raises here
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    log.info("Chapters ready in %.1f s (%d at a time)", time.perf_counter() - start, jobs)

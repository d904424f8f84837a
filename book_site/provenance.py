"""The page "How this book was built": what produced every result of this very build.

For each chapter: how long its execution took, the peak memory of its kernel, the seeds
it uses, and whether this build executed it or took it from the notebook cache (then the
numbers are those of the build that executed it, kept beside the cache). For the build:
the commit, the date, the versions of Python and of the libraries that compute the
results, the processor and whether a GPU was there, and the commands that reproduce it.

``docs/provenance.md`` holds the page's text and a marker, ``<!-- provenance -->``; after
the build, this module writes the tables in its place in the built page.
"""

from __future__ import annotations

import datetime
import html
import importlib.metadata
import json
import os
import platform
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

MARKER = "<!-- provenance -->"
PAGE = "provenance/index.html"
SEED_CALL = re.compile(r"\bseeds\.(?:generator|seed|manual_seed)\(\s*(\d+)")
LIBRARIES = ["torch", "numpy", "matplotlib", "mkdocs", "mkdocs-material", "mkdocs-jupyter"]


@dataclass
class ChapterRun:
    """One chapter's execution: wall time, the kernel's peak memory, when, with which shift."""

    seconds: float
    peak_mib: float
    executed_at: str
    seed_shift: int


# Chapters may execute in parallel threads (execution.execute_in_parallel). A chapter's
# memory is its own kernel's: kernels start one at a time, so that each measurement
# can tell which new child process is its kernel.
_KERNEL_START = threading.Lock()


def _memory_mib(process) -> float:
    """Resident memory of a process and all its descendants, in MiB."""
    import psutil

    total = 0
    for each in [process, *process.children(recursive=True)]:
        try:
            total += each.memory_info().rss
        except psutil.Error:  # it ended between the listing and the read
            pass
    return total / 2**20


@contextmanager
def measured() -> Iterator[dict[str, float]]:
    """Time a block and sample the memory of the child process it starts (the chapter's
    kernel, with its own children) every 50 ms; yields a dict that gets ``seconds`` and
    ``peak_mib``.

    Blocks may run in parallel threads. The first new child of this process that a
    block sees is its kernel: until it appears, no other measured block may start.
    """
    import psutil

    result: dict[str, float] = {"peak_mib": 0.0}
    me = psutil.Process()
    done, found = threading.Event(), threading.Event()
    _KERNEL_START.acquire()
    others = {child.pid for child in me.children()}

    def let_the_next_kernel_start() -> None:
        if not found.is_set():
            found.set()
            _KERNEL_START.release()

    def sample() -> None:
        kernel = None
        while not done.wait(0.05):
            if kernel is None:
                new = [child for child in me.children() if child.pid not in others]
                if not new:
                    continue
                kernel = new[0]
                let_the_next_kernel_start()
            try:
                result["peak_mib"] = max(result["peak_mib"], _memory_mib(kernel))
            except psutil.NoSuchProcess:  # the kernel has shut down
                return

    sampler = threading.Thread(target=sample, daemon=True)
    start = time.perf_counter()
    sampler.start()
    try:
        yield result
    finally:
        done.set()
        sampler.join()
        let_the_next_kernel_start()  # if the block ended before a kernel appeared
        result["seconds"] = time.perf_counter() - start


def record_run(cache_dir: str | Path, chapter: str, numbers: dict[str, float]) -> None:
    """Keep a chapter's run beside the notebook cache, for builds that reuse the cache."""
    run = ChapterRun(
        seconds=round(numbers["seconds"], 1),
        peak_mib=round(numbers["peak_mib"]),
        executed_at=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        seed_shift=int(os.environ.get("EBM_BOOK_SEED_SHIFT", "0") or 0),
    )
    folder = Path(cache_dir) / "provenance"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{Path(chapter).stem}.json").write_text(json.dumps(asdict(run)), encoding="utf-8")


def recorded_run(cache_dir: str | Path, chapter: str) -> ChapterRun | None:
    path = Path(cache_dir) / "provenance" / f"{Path(chapter).stem}.json"
    if not path.is_file():
        return None
    return ChapterRun(**json.loads(path.read_text(encoding="utf-8")))


def seeds_used(source: str) -> list[int]:
    """The seed numbers a chapter asks ``ebm_book.seeds`` for (before any shift)."""
    return sorted({int(n) for n in SEED_CALL.findall(source)})


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _hardware() -> str:
    import torch

    cores = os.cpu_count() or 0
    processor = platform.processor() or platform.machine()
    gpu = (
        f"GPU: {torch.cuda.get_device_name(0)}"
        if torch.cuda.is_available()
        else "no GPU (every chapter ran on the CPU)"
    )
    return f"{processor}, {cores} cores; {gpu}"


def machine(cache_dir: str | Path, executed: set[str]) -> str:
    """The machine that executed the chapters: this one if this build executed any (and
    it is kept beside the cache), else the one kept. Asking PyTorch about GPUs takes
    seconds, which a rebuild that executes nothing does not spend."""
    kept = Path(cache_dir) / "provenance" / "machine.txt"
    if executed or not kept.is_file():
        kept.parent.mkdir(parents=True, exist_ok=True)
        kept.write_text(_hardware(), encoding="utf-8")
    return kept.read_text(encoding="utf-8")


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def chapter_rows(
    chapters: list, executed: set[str], cache_dir: str | Path, shift: int
) -> list[list[str]]:
    rows = []
    for file in chapters:
        run = recorded_run(cache_dir, file.src_uri)
        source = Path(file.abs_src_path).read_text(encoding="utf-8")
        seeds = seeds_used(source)
        shown = ", ".join(str(n + 1000 * shift) for n in seeds) or "none"
        where = "executed by this build" if file.src_uri in executed else "from the cache"
        rows.append(
            [
                f"<code>{html.escape(file.src_uri)}</code>",
                f"{run.seconds:.1f} s" if run else "unknown",
                f"{run.peak_mib:.0f} MiB" if run else "unknown",
                shown,
                where
                + (
                    f" (run {run.executed_at})" if run and where != "executed by this build" else ""
                ),
            ]
        )
    return rows


def page_html(config, chapters: list, executed: set[str], cache_dir: str | Path) -> str:
    """The two tables and the commands, as HTML."""
    shift = int(os.environ.get("EBM_BOOK_SEED_SHIFT", "0") or 0)
    runs = chapter_rows(chapters, executed, cache_dir, shift)
    chapters_table = _table(
        ["chapter", "execution", "peak memory of its kernel", "seeds", "this build"], runs
    )
    pin = config.extra.get("notebook_pin", "unknown")
    repository = config.extra.get("repository", "OWNER/REPO")
    build = [
        ["commit", f"<code>{html.escape(pin)}</code>"],
        ["built", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")],
        ["seed shift", f"{shift} (every seed n of the book is n + 1000 &times; {shift})"],
        ["Python", html.escape(sys.version.split()[0])],
        *[[name, html.escape(_version(name))] for name in LIBRARIES],
        ["ebm-book", html.escape(_version("ebm-book"))],
        ["machine", html.escape(machine(cache_dir, executed))],
    ]
    build_table = _table(["", ""], build)
    commands = (
        f"git clone https://github.com/{repository}.git && cd {repository.split('/')[-1]}\n"
        f"git checkout {pin}\n"
        'python3.12 -m venv .venv && . .venv/bin/activate && pip install -e ".[docs]"\n'
        + (f"EBM_BOOK_SEED_SHIFT={shift} " if shift else "")
        + "mkdocs build --strict"
    )
    return (
        '<h2 id="the-chapters">The chapters</h2>'
        + chapters_table
        + '<h2 id="the-build">The build</h2>'
        + build_table
        + '<h2 id="to-reproduce-it">To reproduce it</h2>'
        + f'<pre><code class="language-bash">{html.escape(commands)}</code></pre>'
    )


def write_page(config, chapters: list, executed: set[str], cache_dir: str | Path) -> bool:
    """Replace the marker in the built provenance page; ``False`` if there is no such page."""
    page = Path(config.site_dir) / PAGE
    if not page.is_file():
        return False
    text = page.read_text(encoding="utf-8")
    if MARKER not in text:
        return False
    page.write_text(
        text.replace(MARKER, page_html(config, chapters, executed, cache_dir)), encoding="utf-8"
    )
    return True


def measuring(
    call: Callable[[], str], cache_dir: str | Path, chapter: str, executed: set[str]
) -> str:
    """Run a chapter's conversion, measured; keep the numbers; note it was executed."""
    with measured() as numbers:
        result = call()
    record_run(cache_dir, chapter, numbers)
    executed.add(chapter)
    return result

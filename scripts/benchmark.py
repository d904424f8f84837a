"""How long does the book take to build? Prints timings against the book's budgets.

Measures, on a copy of the book in a temporary folder (your files are not touched):

1. a cold build: empty notebook cache, every chapter executes, the book's PDF is printed
   (its own time is shown too);
2. a warm rebuild with nothing changed: nothing should execute;
3. a rebuild after editing one chapter: only that chapter should execute;
4. a rebuild after editing a file of the ``ebm_book`` package: every chapter executes;

and each chapter's execution time during the cold build. It also prints each
chapter page's weight: its HTML without the embedded figures, and the whole page.

With ``--validation`` it builds nothing and instead times the two loops that input
checks must not slow down: a 2000-step ``sampling.langevin`` run of 1000 chains in 2-D,
and a 1000-step ``training.train`` run (best of a few repeats, on one thread).

Usage (from the repository root, with the ``docs`` extra installed)::

    python scripts/benchmark.py [--chapter 01_energy_functions]
    python scripts/benchmark.py --validation
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
BUDGET_CHAPTER_S = 60
BUDGET_COLD_S = 4 * 60
BUDGET_WARM_S = 10
BUDGET_HTML_KB = 45  # a chapter page without its embedded figures, gzipped
BUDGET_PAGE_MB = 2  # a chapter page with them
EXECUTED = re.compile(r"Executed chapter (\S+) in ([\d.]+) s")
PRINTED = re.compile(r"Printed the book to \S+ in ([\d.]+) s")
EMBEDDED_IMAGE = re.compile(rb'src="data:[^"]*"')


def copy_book(target: Path) -> None:
    """Copy what a build reads: the config, the pages and the package."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")
    shutil.copy2(REPO_ROOT / "mkdocs.yml", target / "mkdocs.yml")
    shutil.copytree(REPO_ROOT / "docs", target / "docs", ignore=ignore)
    shutil.copytree(REPO_ROOT / "ebm_book", target / "ebm_book", ignore=ignore)
    shutil.copytree(REPO_ROOT / "book_site", target / "book_site", ignore=ignore)


PDF_SECONDS: list[float] = []  # each build's time to print the PDF (none when cached)


def build(book: Path) -> tuple[float, dict[str, float]]:
    """Run ``mkdocs build --strict`` on the copy; return seconds and chapters executed.

    The time the build took to print the book's PDF, if it printed it, is appended to
    ``PDF_SECONDS`` (0 when it came from the cache).
    """
    env = {
        **os.environ,
        "NO_MKDOCS_2_WARNING": "1",
        "PYTHONPATH": str(book),  # chapters import the copy's ebm_book
        "EBM_BOOK_NOTEBOOK_CACHE": str(book / ".cache" / "notebooks"),
    }
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", "site"]
    start = time.perf_counter()
    result = subprocess.run(command, cwd=book, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    log = result.stdout + result.stderr
    if result.returncode != 0:
        sys.exit(f"mkdocs build failed:\n{log}")
    printed = PRINTED.findall(log)
    PDF_SECONDS.append(float(printed[0]) if printed else 0.0)
    return seconds, {name: float(s) for name, s in EXECUTED.findall(log)}


def append_blank_line(path: Path) -> None:
    """An edit that changes the file's bytes (and so its cache key) but not its meaning."""
    with path.open("a", encoding="utf-8") as file:
        file.write("\n")


def verdict(seconds: float, budget: float) -> str:
    return "ok" if seconds < budget else "OVER BUDGET"


def report(label: str, seconds: float, executed: dict[str, float], budget: float | None = None):
    names = ", ".join(Path(name).stem for name in executed) or "none"
    budget_text = (
        f"budget < {budget:>4.0f} s  {verdict(seconds, budget):<11}" if budget else " " * 27
    )
    print(f"{label:<34} {seconds:7.1f} s   {budget_text} executed: {names}")


def report_page_weights(site: Path, chapters: list[str]) -> None:
    print("\nchapter page weight (HTML without figures, gzipped; whole page):")
    for name in chapters:
        html = (site / "chapters" / name / "index.html").read_bytes()
        text_kb = len(gzip.compress(EMBEDDED_IMAGE.sub(b'src=""', html), 6)) / 1e3
        page_mb = len(html) / 1e6
        verdicts = f"{verdict(text_kb, BUDGET_HTML_KB)}, {verdict(page_mb, BUDGET_PAGE_MB)}"
        print(
            f"  {name:<32} {text_kb:5.0f} KB  {page_mb:5.2f} MB"
            f"   budget < {BUDGET_HTML_KB} KB, < {BUDGET_PAGE_MB} MB  {verdicts}"
        )


def time_validation(repeats: int = 5) -> None:
    """Best-of-``repeats`` times of a long sampler run and a long training run."""
    sys.path.insert(0, str(REPO_ROOT))  # time this checkout's package, not an installed one
    import torch

    from ebm_book import examples, losses, nets, sampling, training

    torch.set_num_threads(1)  # as in the book's build; also steadier timings
    mixture = examples.example_mixture()
    data = mixture.sample(5000, generator=torch.Generator().manual_seed(0))

    def run_langevin() -> None:
        generator = torch.Generator().manual_seed(1)
        x0 = torch.randn(1000, 2, generator=generator)
        sampling.langevin(mixture.score, x0, 0.01, 2000, generator=generator)

    def run_training() -> None:
        torch.manual_seed(2)
        model = nets.ScoreMLP(dim=2, hidden=64, depth=3)

        def loss(model, batch, generator):
            return losses.denoising_score_matching(model, batch, 0.3, generator)

        training.train(model, loss, data, n_steps=1000, batch_size=256, progress=False)

    # CPU time as well as wall time: on a busy machine the CPU time is the steadier one.
    print(f"validation overhead check (best of {repeats}, one thread):")
    for label, run in [
        ("langevin: 2000 steps, 1000 chains, 2-D", run_langevin),
        ("train: 1000 steps, batch 256", run_training),
    ]:
        wall, cpu = [], []
        for _ in range(repeats):
            start, start_cpu = time.perf_counter(), time.process_time()
            run()
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        print(f"  {label:<40} {min(wall):6.2f} s wall  {min(cpu):6.2f} s CPU")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    chapters = sorted(p.stem for p in (REPO_ROOT / "docs" / "chapters").glob("*.py"))
    parser.add_argument("--chapter", default=chapters[0], choices=chapters)
    parser.add_argument(
        "--validation", action="store_true", help="time a long sampler and training run only"
    )
    args = parser.parse_args()
    if args.validation:
        time_validation()
        return

    with tempfile.TemporaryDirectory(prefix="ebm-book-benchmark-") as folder:
        book = Path(folder)
        copy_book(book)
        print(f"Benchmarking {len(chapters)} chapter(s) on a copy of the book in {book}\n")

        cold, cold_executed = build(book)
        report("cold build (empty cache)", cold, cold_executed, BUDGET_COLD_S)
        print(f"{'  of which printing the PDF':<34} {PDF_SECONDS[-1]:7.1f} s")
        warm, executed = build(book)
        report("warm rebuild (nothing changed)", warm, executed, BUDGET_WARM_S)
        print(f"{'  of which printing the PDF':<34} {PDF_SECONDS[-1]:7.1f} s (cached: 0)")
        append_blank_line(book / "docs" / "chapters" / f"{args.chapter}.py")
        seconds, executed = build(book)
        report(f"after editing {args.chapter}", seconds, executed)
        append_blank_line(book / "ebm_book" / "__init__.py")
        seconds, executed = build(book)
        report("after editing ebm_book/__init__.py", seconds, executed)

        print("\nchapter execution (cold build):")
        for name, seconds in cold_executed.items():
            budget = f"budget < {BUDGET_CHAPTER_S} s  {verdict(seconds, BUDGET_CHAPTER_S)}"
            print(f"  {Path(name).name:<32} {seconds:7.1f} s   {budget}")
        report_page_weights(book / "site", chapters)


if __name__ == "__main__":
    main()

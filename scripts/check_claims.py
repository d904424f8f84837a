"""Re-run every chapter with shifted seeds and report which claims of the text held.

Every run-dependent statement in the chapters is either written from the computed value
or checked by ``ebm_book.claims.claim``. A claim that holds for the default seeds only is
not a finding. This script re-executes the chapters in fresh kernels with every seed of
the book shifted (``EBM_BOOK_SEED_SHIFT``, see ``ebm_book.seeds``) and with claims logged
instead of raised (``EBM_BOOK_CLAIMS_LOG``), then prints, for each claim, the shifts
under which it failed.

Usage::

    python scripts/check_claims.py                      # shifts 1, 2 and 3, every chapter
    python scripts/check_claims.py --shifts 0 4 5 --chapters 02 04

The exit status is 1 if any claim failed or any cell raised an error, else 0.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import jupytext
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from book_site.execution import encrypted_kernel_config

REPO_ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = REPO_ROOT / "docs" / "chapters"
CELL_TIMEOUT_S = 600


def run_chapter(chapter: Path, shift: int, log_path: Path) -> tuple[float, str | None]:
    """Execute one chapter with shifted seeds; return its time and its cell error, if any."""
    os.environ["EBM_BOOK_SEED_SHIFT"] = str(shift)
    os.environ["EBM_BOOK_CLAIMS_LOG"] = str(log_path)
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # as in the build
    notebook = jupytext.read(chapter)
    config = encrypted_kernel_config()  # as the build's kernels: no "without encryption"
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as workdir:
        client = NotebookClient(
            notebook,
            timeout=CELL_TIMEOUT_S,
            kernel_name="python3",
            resources={"metadata": {"path": workdir}},
            config=config,
        )
        try:
            client.execute()
            error = None
        except CellExecutionError as exception:
            error = str(exception).strip().splitlines()[-1]
    return time.perf_counter() - start, error


def read_claims(log_path: Path) -> list[dict]:
    if not log_path.exists():
        return []
    return [json.loads(line) for line in log_path.read_text(encoding="utf-8").splitlines()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shifts", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument(
        "--chapters", nargs="+", default=None, help="chapter file prefixes, e.g. 01 04"
    )
    args = parser.parse_args()
    chapters = sorted(CHAPTERS.glob("[0-9][0-9]_*.py"))
    if args.chapters:
        chapters = [c for c in chapters if any(c.name.startswith(p) for p in args.chapters)]
    if not chapters:
        parser.error("no chapter matches --chapters")

    failures = 0
    for chapter in chapters:
        outcomes: dict[str, dict[int, dict]] = defaultdict(dict)
        print(f"\n== {chapter.name}")
        for shift in args.shifts:
            with tempfile.TemporaryDirectory() as folder:
                log_path = Path(folder) / "claims.jsonl"
                seconds, error = run_chapter(chapter, shift, log_path)
                records = read_claims(log_path)
            for record in records:
                outcomes[record["claim"]][shift] = record
            held = sum(r["held"] for r in records)
            print(f"   shift {shift}: {held} of {len(records)} claims held ({seconds:.0f} s)")
            if error:
                failures += 1
                print(f"   shift {shift}: a cell raised an error: {error}")
        for statement, by_shift in outcomes.items():
            failed = [s for s, r in by_shift.items() if not r["held"]]
            missing = [s for s in args.shifts if s not in by_shift]
            if failed or missing:
                failures += 1
                print(f"   FAILED  {statement!r}")
                for shift in failed:
                    print(f"           shift {shift}: {by_shift[shift]['evidence']}")
                if missing:
                    print(f"           not reached with shifts {missing}")
            else:
                print(f"   held    {statement!r}")
    print("\nall claims held" if not failures else f"\n{failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

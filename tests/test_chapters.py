"""Every chapter runs top to bottom in a fresh kernel, as a reader would run it.

Independent of the site build: each ``docs/chapters/*.py`` (jupytext percent
format) is converted to a notebook and executed by nbclient in a new Python
kernel, in a temporary working directory, with a time limit per cell. A failing
cell fails the test with that cell's error. Execution times are reported (the
budget is a guide, not a test: timings depend on the machine).
"""

from __future__ import annotations

import time
import warnings

import jupytext
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError

from book_site.execution import encrypted_kernel_config

CELL_TIMEOUT_S = 300
CHAPTER_BUDGET_S = 60


def test_chapter_runs_in_a_fresh_kernel(chapter_file, tmp_path, record_property):
    notebook = jupytext.read(chapter_file)
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},  # the kernel's working directory
        config=encrypted_kernel_config(),  # as in the build: no "without encryption" warning
    )
    start = time.perf_counter()
    try:
        client.execute()
    except CellTimeoutError as error:
        pytest.fail(f"{chapter_file.name}: a cell ran longer than {CELL_TIMEOUT_S} s\n{error}")
    except CellExecutionError as error:
        pytest.fail(f"{chapter_file.name}: a cell failed\n{error}")
    seconds = time.perf_counter() - start
    record_property("execution_seconds", round(seconds, 1))
    print(f"{chapter_file.name} executed in {seconds:.1f} s (budget {CHAPTER_BUDGET_S} s)")
    if seconds > CHAPTER_BUDGET_S:
        warnings.warn(
            f"{chapter_file.name} took {seconds:.0f} s, over its {CHAPTER_BUDGET_S} s budget",
            stacklevel=1,
        )

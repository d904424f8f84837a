"""The published notebooks: valid, Colab-ready, linked from their chapter, and runnable as Colab runs them.

"As Colab runs them" means: the package installed *non-editable* from a freshly built
wheel (not this checkout), a fresh kernel, a temporary working directory, every cell in
order. Colab's own install cell is a no-op outside Colab, which the test also checks.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml
from bs4 import BeautifulSoup
from nbclient import NotebookClient

from book_site.execution import encrypted_kernel_config, parallel_jobs

REPO_ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((REPO_ROOT / "docs" / "chapters").glob("*.py"))
CONFIG = yaml.safe_load((REPO_ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
REPOSITORY = CONFIG["extra"]["repository"]


def git_head() -> str | None:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


@pytest.fixture(scope="module", params=CHAPTERS, ids=[c.stem for c in CHAPTERS])
def notebook(request, built_site):
    path = built_site.site_dir / "notebooks" / f"{request.param.stem}.ipynb"
    assert path.exists(), f"no notebook published for {request.param.name}"
    text = path.read_text(encoding="utf-8")
    json.loads(text)  # valid JSON
    nb = nbformat.reads(text, as_version=4)
    nbformat.validate(nb)
    jupytext.reads(text, fmt="ipynb")  # and jupytext accepts it
    return nb


def test_first_cell_installs_the_pinned_package_only_in_colab(notebook):
    setup = notebook.cells[0]
    assert setup.cell_type == "code"
    assert 'if "google.colab" in sys.modules:' in setup.source
    assert "--no-deps" in setup.source  # never reinstall or downgrade Colab's PyTorch
    pin = os.environ.get("EBM_BOOK_PIN") or git_head() or "main"
    assert f"ebm-book @ git+https://github.com/{REPOSITORY}@{pin}" in setup.source


def test_solutions_are_hidden_and_never_overwrite_the_readers_work(notebook):
    code = [c for c in notebook.cells if c.cell_type == "code"]
    solutions = [i for i, c in enumerate(code) if "solution" in c.metadata.get("tags", [])]
    assert len(solutions) >= 3
    for i in solutions:
        cell = code[i]
        assert cell.metadata.get("cellView") == "form"
        assert cell.source.startswith("#@title Solution")
        todo = next(c for c in reversed(code[:i]) if "raise NotImplementedError" in c.source)
        # The solution defines its own names: running it after the reader's cell must not
        # replace the reader's function.
        assert not defined_functions(todo.source) & defined_functions(cell.source)


def defined_functions(source: str) -> set[str]:
    tree = ast.parse(source)
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


def test_prose_cells_show_their_text_not_their_code(notebook):
    """Cells that write a paragraph from computed values are Colab forms, code collapsed."""
    prose = [c for c in notebook.cells if "prose" in c.metadata.get("tags", [])]
    for cell in prose:
        assert cell.metadata.get("cellView") == "form"
        assert cell.metadata.get("jupyter") == {"source_hidden": True}
        assert cell.source.startswith("#@title Text computed from the results above")


def test_markdown_has_no_mkdocs_only_syntax_left(notebook):
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        assert not re.search(r"^(!!!|\?\?\?)", cell.source, re.MULTILINE), cell.source[:200]
        assert not re.search(r"\]\((?!https?://|#)[^)]*\.(md|py)", cell.source), cell.source[:200]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.stem for c in CHAPTERS])
def test_chapter_page_links_to_colab_and_to_the_download(chapter, built_site):
    page = built_site.site_dir / "chapters" / chapter.stem / "index.html"
    html = page.read_text(encoding="utf-8")
    colab = (
        f"https://colab.research.google.com/github/{REPOSITORY}/blob/gh-pages/"
        f"notebooks/{chapter.stem}.ipynb"
    )
    assert f'href="{colab}"' in html
    download = BeautifulSoup(html, "html.parser").select_one("a.md-button.ebm-download[download]")
    assert download is not None, "no download link"
    assert (page.parent / str(download["href"])).resolve() == (
        built_site.site_dir / "notebooks" / f"{chapter.stem}.ipynb"
    ).resolve()


@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory):
    """``ebm_book`` built as a wheel and installed, non-editable, into its own folder."""
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(work / "dist"), str(REPO_ROOT)],
        check=True, capture_output=True,
    )  # fmt: skip
    (wheel,) = (work / "dist").glob("ebm_book-*.whl")
    target = work / "site-packages"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(target), str(wheel)],
        check=True, capture_output=True,
    )  # fmt: skip
    return target


def run_as_in_colab(notebook: nbformat.NotebookNode, wheel: Path, folder: Path) -> str:
    """Execute a copy of ``notebook`` in a fresh kernel, in an empty working directory,
    with the wheel's package first on the path; return what its last cell printed."""
    check = nbformat.v4.new_code_cell(
        "import ebm_book, pathlib\n"
        f"assert pathlib.Path(ebm_book.__file__).is_relative_to({str(wheel)!r}), ebm_book.__file__\n"
        "print('ebm_book from', ebm_book.__file__)"
    )
    notebook = nbformat.from_dict(json.loads(json.dumps(notebook)))  # a private copy
    notebook.cells.append(check)
    client = NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(folder)}},
        config=encrypted_kernel_config(),  # as in the build: no "without encryption" warning
    )
    client.execute()  # raises CellExecutionError, naming the cell, on any error
    return "".join(o.get("text", "") for o in notebook.cells[-1].outputs)


@pytest.fixture(scope="module")
def colab_runs(built_site, installed_wheel, tmp_path_factory) -> dict[str, Future]:
    """Every published notebook run as in Colab, several at a time as the build runs the
    chapters (each kernel on one math thread): each chapter's future run."""
    notebooks = {
        chapter.stem: nbformat.read(
            built_site.site_dir / "notebooks" / f"{chapter.stem}.ipynb", as_version=4
        )
        for chapter in CHAPTERS
    }
    with pytest.MonkeyPatch.context() as environment:  # the kernels inherit it
        environment.setenv("PYTHONPATH", str(installed_wheel))
        environment.setenv("MPLBACKEND", "Agg")
        environment.setenv("OMP_NUM_THREADS", "1")
        with ThreadPoolExecutor(parallel_jobs()) as pool:
            runs = {
                stem: pool.submit(
                    run_as_in_colab, notebook, installed_wheel, tmp_path_factory.mktemp(stem)
                )
                for stem, notebook in reversed(notebooks.items())  # the longest first
            }
            wait(runs.values())
    return runs


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.stem for c in CHAPTERS])
def test_notebook_runs_as_in_colab(chapter, colab_runs):
    """Fresh kernel, empty working directory, the wheel's package first on the path."""
    printed = colab_runs[chapter.stem].result()  # raises the cell's error, if one failed
    assert "ebm_book from" in printed

"""The chapters use only the symbols that the notation page lists, and only after the
chapter that the page says defines them.

A symbol here is a letter in math mode: a Latin letter, a Greek letter (``\\sigma``), or a
calligraphic or blackboard letter (``\\mathcal{N}``). Text inside ``\\text{}``,
``\\mathrm{}`` and ``\\operatorname{}`` (names such as ESM, KL, tr or the differential d)
is not a symbol. Decorations (hats, bars, tildes) and subscripts do not make a new base
symbol: the page's rows say what a decorated symbol means.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import jupytext
import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
NOTATION = DOCS / "notation.md"

MATH = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$", re.DOTALL)
WORDS = re.compile(r"\\(?:text|mathrm|operatorname|textsf|textbf)\s*\{[^{}]*\}")
TOKEN = re.compile(r"\\(mathcal|mathbb)\s*\{\s*([A-Za-z])\s*\}|\\([A-Za-z]+)|([A-Za-z])")
GREEK = set(
    "alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu "
    "nu xi pi varpi rho varrho sigma varsigma tau upsilon phi varphi chi psi omega "
    "Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega".split()
)


def symbols(math: str) -> set[str]:
    """The symbols of one math expression (see the module docstring)."""
    found = set()
    for match in TOKEN.finditer(WORDS.sub(" ", math)):
        font, letter, command, plain = match.groups()
        if font:
            found.add(f"\\{font}{{{letter}}}")
        elif command in GREEK:
            found.add(f"\\{command}")
        elif plain:
            found.add(plain)
    return found


def math_of(text: str) -> list[str]:
    return [a or b for a, b in MATH.findall(text)]


def prose_text(source: str) -> str:
    """The text a ``prose`` cell writes: its string literals, each computed value of an
    f-string standing as a number (read from the code, as Python parses it)."""
    tree = ast.parse(source)
    inside_fstrings = {
        id(part)
        for node in ast.walk(tree)
        if isinstance(node, ast.JoinedStr)
        for part in node.values
    }
    pieces = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts = [p.value if isinstance(p, ast.Constant) else "0" for p in node.values]
            pieces.append("".join(parts))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) not in inside_fstrings:
                pieces.append(node.value)
    return "\n".join(pieces)


def chapter_text(path: Path) -> str:
    """The chapter's Markdown, and the text its ``prose`` cells write."""
    parts = []
    for cell in jupytext.read(path).cells:
        if cell.cell_type == "markdown":
            parts.append(cell.source)
        elif "prose" in cell.metadata.get("tags", []):
            parts.append(prose_text(cell.source))
    return "\n".join(parts)


def notation_rows() -> list[tuple[set[str], int]]:
    """(symbols of the first column, chapter that defines them) for every table row."""
    rows = []
    for line in NOTATION.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) < 2 or set(cells[0]) <= {"-", ":"}:
            continue
        listed = set().union(*(symbols(m) for m in math_of(cells[0]))) if "$" in cells[0] else set()
        chapters = [int(c) for c in re.findall(r"(\d+)\.\d+", cells[-1])] if len(cells) == 3 else []
        rows.append((listed, min(chapters) if chapters else 0))
    return rows


def first_defined() -> dict[str, int]:
    """For each listed symbol, the earliest chapter whose section defines it."""
    earliest: dict[str, int] = {}
    for listed, chapter in notation_rows():
        for symbol in listed:
            earliest[symbol] = min(chapter, earliest.get(symbol, chapter))
    return earliest


def test_the_tokenizer_reads_symbols_not_words():
    assert symbols(r"J_{\text{ESM}}(\theta) = \tfrac12\,\mathbb{E}_p \lVert s_\theta \rVert^2") == {
        "J",
        "\\theta",
        "\\mathbb{E}",
        "p",
        "s",
    }
    assert symbols(r"\mathrm{d}x + \operatorname{tr} A + \mathrm{KL}(\rho \Vert p)") == {
        "x",
        "A",
        "\\rho",
        "p",
    }


def test_computed_values_in_prose_are_numbers_not_symbols():
    source = (
        r'rf"minimum at ${x_left:.3f}$, $x_{{\mathrm{{L}}}} = {x_left:.2f}$ and $e^{{{gap}/T}}$"'
    )
    assert symbols(" ".join(math_of(prose_text(source)))) == {"x", "e", "T"}


def test_the_notation_page_lists_every_core_symbol():
    listed = set(first_defined())
    for symbol in ["E", "T", "Z", "s", "\\epsilon", "\\sigma", "L", "M", "\\lambda", "J", "C"]:
        assert symbol in listed, symbol


@pytest.mark.parametrize(
    "chapter", sorted((DOCS / "chapters").glob("[0-9][0-9]_*.py")), ids=lambda p: p.stem
)
def test_chapter_uses_only_listed_symbols_after_their_definition(chapter):
    number = int(chapter.name[:2])
    defined = first_defined()
    used = set().union(*(symbols(m) for m in math_of(chapter_text(chapter))))
    unlisted = sorted(used - set(defined))
    assert not unlisted, f"{chapter.name} uses symbols the notation page does not list: {unlisted}"
    early = sorted(s for s in used if defined[s] > number)
    assert not early, (
        f"{chapter.name} uses symbols that the notation page says a later chapter defines: "
        + ", ".join(f"{s} (chapter {defined[s]})" for s in early)
    )

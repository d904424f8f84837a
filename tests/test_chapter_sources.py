"""Static checks of the chapter sources, before anything runs."""

from __future__ import annotations

import ast
from pathlib import Path

import jupytext
import pytest

CHAPTERS = sorted((Path(__file__).resolve().parents[1] / "docs" / "chapters").glob("*.py"))


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_every_display_call_is_the_last_statement_of_its_cell(chapter):
    """A notebook shows only its cell's last expression: a table, an animation or a
    paragraph (``display.*``) anywhere else in the cell would silently never appear."""
    hidden = []
    for index, cell in enumerate(jupytext.read(chapter).cells):
        if cell.cell_type != "code":
            continue
        statements = ast.parse(cell.source).body
        for node in ast.walk(ast.Module(body=statements[:-1], type_ignores=[])):
            if isinstance(node, ast.Call) and ast.unparse(node.func).startswith("display."):
                hidden.append(f"cell {index}: {ast.unparse(node.func)}")
        last = statements[-1] if statements else None
        if last is not None and not isinstance(last, ast.Expr):
            for node in ast.walk(last):
                if isinstance(node, ast.Call) and ast.unparse(node.func).startswith("display."):
                    hidden.append(f"cell {index}: {ast.unparse(node.func)} (inside a statement)")
    assert not hidden, f"{chapter.name}: display calls whose output never shows: {hidden}"

"""The API reference has one page per public module, each in the navigation."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

import ebm_book

ROOT = Path(__file__).resolve().parents[1]


def nav_entries(node) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [e for value in node.values() for e in nav_entries(value)]
    return [e for item in node for e in nav_entries(item)]


def test_every_public_module_has_its_own_page_in_the_navigation():
    nav = nav_entries(yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))["nav"])
    for module in ebm_book.__all__:
        page = f"api/{module}.md"
        assert page in nav, f"{page} is not in mkdocs.yml's nav"
        text = (ROOT / "docs" / page).read_text(encoding="utf-8")
        assert re.search(rf"^::: ebm_book\.{module}\s*$", text, re.MULTILINE), page


def test_every_exercise_module_of_a_chapter_has_a_page():
    nav = nav_entries(yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))["nav"])
    chapters = sorted((ROOT / "ebm_book" / "exercises").glob("ch[0-9][0-9]_*.py"))
    documented = {Path(p).stem for p in nav if p.startswith("api/exercises/")}
    imported_by_init = (ROOT / "ebm_book" / "exercises" / "__init__.py").read_text()
    main_modules = {m.stem for m in chapters if f"from .{m.stem} import" in imported_by_init}
    assert main_modules <= documented, main_modules - documented

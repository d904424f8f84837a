"""The API reference: one page per module, each linking to its source.

mkdocstrings renders each module's docstrings (``docs/api/<module>.md`` holds one
``::: ebm_book.<module>``). Their highlighted source, inlined, made the reference 1.5 MB
of HTML; instead each page gets a link to its module's file in the repository, at the
commit the site was built from (the pin that the Colab notebooks install, see ``colab``).
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from bs4 import BeautifulSoup

SOURCE_URL = "https://github.com/{repository}/blob/{pin}/{path}"
TREE_URL = "https://github.com/{repository}/tree/{pin}/{path}"
MODULE_DIRECTIVE = re.compile(r"^::: (ebm_book(?:\.\w+)*)\s*$", re.MULTILINE)


def documented_module(page) -> str | None:
    """The module an API page documents (``ebm_book.energies``), or ``None``."""
    if not page.file.src_uri.startswith("api/"):
        return None
    match = MODULE_DIRECTIVE.search(page.markdown or "")
    return match.group(1) if match else None


def source_path(module: str) -> tuple[str, bool]:
    """The module's path in the repository, and whether it is a folder (a package)."""
    spec = importlib.util.find_spec(module)
    relative = module.replace(".", "/")
    if spec is not None and spec.origin and Path(spec.origin).name == "__init__.py":
        return f"{relative}/", True
    return f"{relative}.py", False


def add_source_link(content: BeautifulSoup, module: str, config) -> None:
    """Put "Source: <path>" under the page's title, linking to the file at the built commit."""
    path, is_folder = source_path(module)
    url = (TREE_URL if is_folder else SOURCE_URL).format(
        repository=config.extra["repository"], pin=config.extra["notebook_pin"], path=path
    )
    paragraph = content.new_tag("p", attrs={"class": "ebm-source"})
    paragraph.append("Source: ")
    link = content.new_tag("a", href=url)
    code = content.new_tag("code")
    code.string = path
    link.append(code)
    paragraph.append(link)
    title = content.find("h1")
    if title is None:
        content.insert(0, paragraph)
    else:
        title.insert_after(paragraph)

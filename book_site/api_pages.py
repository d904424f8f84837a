"""The API reference: one page per module, each linking to its source.

mkdocstrings renders each module's docstrings (``docs/api/<module>.md`` holds one
``::: ebm_book.<module>``). Their highlighted source, inlined, made the reference 1.5 MB
of HTML; instead each page gets a link to its module's file in the repository, at the
commit the site was built from (the pin that the Colab notebooks install, see ``colab``),
written into the page's Markdown under its title.
"""

from __future__ import annotations

import re
from pathlib import Path

from mkdocs.exceptions import PluginError

SOURCE_URL = "https://github.com/{repository}/blob/{pin}/{path}"
TREE_URL = "https://github.com/{repository}/tree/{pin}/{path}"
MODULE_DIRECTIVE = re.compile(r"^::: (ebm_book(?:\.\w+)*)\s*$", re.MULTILINE)
TITLE = re.compile(r"^# .*\n", re.MULTILINE)


def documented_module(page) -> str | None:
    """The module an API page documents (``ebm_book.energies``), or ``None``."""
    if not page.file.src_uri.startswith("api/"):
        return None
    match = MODULE_DIRECTIVE.search(page.markdown or "")
    return match.group(1) if match else None


def source_path(module: str, project_root: Path) -> tuple[str, bool]:
    """The module's path in the repository, and whether it is a folder (a package).

    Read from the files, not by importing the module: importing ``ebm_book`` imports
    PyTorch, seconds of every rebuild.
    """
    relative = module.replace(".", "/")
    if (project_root / relative / "__init__.py").is_file():
        return f"{relative}/", True
    if (project_root / f"{relative}.py").is_file():
        return f"{relative}.py", False
    raise PluginError(f"the API reference documents {module}, which has no file {relative}.py")


def with_source_link(markdown: str, module: str, config) -> str:
    """The page's Markdown with "Source: <path>" under its title, linking to the file at
    the built commit. Added to the Markdown, not to the HTML: nothing has to be parsed."""
    path, is_folder = source_path(module, Path(config.config_file_path).parent)
    url = (TREE_URL if is_folder else SOURCE_URL).format(
        repository=config.extra["repository"], pin=config.extra["notebook_pin"], path=path
    )
    link = f"Source: [`{path}`]({url})\n{{: .ebm-source }}\n"
    title = TITLE.search(markdown)
    if title is None:
        return f"{link}\n{markdown}"
    return f"{markdown[: title.end()]}\n{link}{markdown[title.end() :]}"

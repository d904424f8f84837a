"""The build of the book's site: one MkDocs plugin, ``ebm-book`` (see ``plugin.py``).

It is build code, not part of the book: the package ``ebm_book`` is what readers import.
Each module below does one job; only ``markup`` knows what the notebook plugin
(mkdocs-jupyter) writes, and which cell tags the chapters use.

- ``markup``: the notebook plugin's markup, the book's cell tags, and the one guarded
  place where the plugin's private functions are wrapped;
- ``site_url``: the environment variable ``SITE_URL`` overrides ``site_url``;
- ``colab``: every chapter as a Colab-ready notebook, with the buttons that open it;
- ``execution``: the execution cache keyed on ``ebm_book``, cell timeouts, clear errors;
- ``mathjax``: MathJax served by the site itself;
- ``solutions``: exercise solutions collapsed until clicked;
- ``figures``: every figure's text description (its alt text);
- ``page_weight``: light pages (shared CSS, plain code cells, palette figures);
- ``api_pages``: the API reference's link from each module's page to its source;
- ``provenance``: the page that says how this build produced every result.
"""

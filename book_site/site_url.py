"""Let the environment say where the site is served: ``SITE_URL`` overrides ``site_url``.

Material's instant navigation only takes over links to pages listed in
``sitemap.xml``, whose URLs are built from ``site_url`` (scheme, host *and port*).
The tests serve the site on a free local port and set ``SITE_URL`` to match; the
deploy workflow sets it to the GitHub Pages address. Without ``SITE_URL`` the
address comes from ``mkdocs.yml`` (or, if unset there, from ``extra.repository``,
see ``colab.py``, which runs after this).
"""

from __future__ import annotations

import os


def apply_site_url(config) -> None:
    site_url = os.environ.get("SITE_URL")
    if site_url:
        config.site_url = site_url if site_url.endswith("/") else site_url + "/"

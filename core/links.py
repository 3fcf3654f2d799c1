"""Absolute links to the web app's pages, as handed out in share links, mail and payments.

Every link starts with the deployment's public address (`Settings.base_url`), so one setting
moves them all from `localhost` to the real domain.
"""

from __future__ import annotations

from urllib.parse import urlencode


def page_url(base_url: str, page: str = "", **query: str) -> str:
    """The address of the page at url path `page` under `base_url`, with `query` encoded.

    `base_url` is an origin without a trailing slash (what `Settings.base_url` gives);
    an empty `page` is the home page.
    """
    url = f"{base_url}/{page.strip('/')}"
    return f"{url}?{urlencode(query)}" if query else url

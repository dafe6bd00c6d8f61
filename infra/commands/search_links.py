"""Absolute links for ``earthsig search --json``.

The command reads pgstac directly, whose links are relative to no server (``.``, ``./search``,
``./search?token=next:...``). They are given here as the STAC API's own: the text search route
answers the same sentence with the same page, so ``self`` and ``next`` can be opened as they are.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit


def default_api_url() -> str:
    """The running stack's STAC API, else where ``earthsig serve api`` would listen."""
    from infra.stack import Stack
    from stac_api.settings import ServeSettings

    running = Stack().load().urls().get("api")
    if running:
        return running
    serve = ServeSettings()
    return f"http://{serve.host}:{serve.port}"


def absolute_links(found: dict[str, Any], api: str, query: dict[str, Any]) -> dict[str, Any]:
    """``found`` with every relative link made absolute against ``api``; ``self``, ``next``
    and ``prev`` as ``GET /search/text`` with ``query`` (and the page's token)."""
    api = api.rstrip("/")
    text_search = f"{api}/search/text?"
    params = {k: v for k, v in query.items() if v not in (None, (), [])}
    links = []
    for link in found.get("links") or []:
        link = dict(link)
        href = str(link.get("href", ""))
        if link.get("rel") == "self":
            link["href"] = text_search + urlencode(params, doseq=True)
        elif link.get("rel") in ("next", "prev"):
            token = link.get("body", {}).get("token") or \
                parse_qs(urlsplit(href).query).get("token", [None])[0]
            link.pop("body", None)
            link.pop("method", None)
            link["href"] = text_search + urlencode({**params, "token": token}, doseq=True)
        elif not urlsplit(href).scheme:
            link["href"] = urljoin(api + "/", href)
        links.append(link)
    features = [{**f, "links": [{**link, "href": urljoin(api + "/", str(link.get("href", "")))}
                               for link in f.get("links") or []]}
                for f in found.get("features") or []]
    return {**found, "links": links, "features": features}

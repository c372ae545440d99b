"""Whether a form POST comes from our own pages (the pages' defence against CSRF, sign-in
included): browsers name the page that sent a POST in ``Origin``, and a cross-site page
cannot forge it.
"""

from urllib.parse import urlsplit

from starlette.datastructures import Headers

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]``, lower-cased, the default port left out; None if unusable.
    Whitespace anywhere makes it unusable: ``urlsplit`` would quietly drop it."""
    if not url.isprintable() or any(c.isspace() for c in url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    shown = "" if port is None or port == _DEFAULT_PORTS[scheme] else f":{port}"
    return f"{scheme}://{host}{shown}"


def same_origin(headers: Headers, *, scheme: str, public_url: str) -> bool:
    """True when the request names our origin: ``CADENCE_PUBLIC_URL``'s, or the one the
    process is addressed by. With no ``Origin`` at all, only ``Sec-Fetch-Site:
    same-origin`` will do; ``Origin: null`` (sandboxed or privacy-stripped) never does."""
    origin = headers.get("origin")
    if origin is None:
        return headers.get("sec-fetch-site") == "same-origin"
    claimed = origin_of(origin)
    if claimed is None:
        return False
    allowed = {origin_of(public_url)}
    if host := headers.get("host"):
        allowed.add(origin_of(f"{scheme}://{host}"))
    return claimed in allowed

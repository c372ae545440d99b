"""The pages' origin check, as a table: what counts as our origin and what never does."""

import pytest
from starlette.datastructures import Headers

from cadence.web.origins import origin_of, same_origin

PUBLIC = "https://cadence.example.com"


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://cadence.example.com", "https://cadence.example.com"),
        ("https://Cadence.Example.COM:443/ui/", "https://cadence.example.com"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("http://[::1]:80", "http://[::1]"),
        ("null", None),
        ("", None),
        ("file:///etc/passwd", None),
        ("javascript:alert(1)", None),
        ("https://", None),
        ("https://host:99999", None),
        ("https://host:abc", None),
        ("http://[::1", None),
        (" https://cadence.example.com", None),
    ],
)
def test_origin_of(url: str, origin: str | None) -> None:
    assert origin_of(url) == origin


def _headers(**values: str) -> Headers:
    return Headers({k.replace("_", "-"): v for k, v in values.items()})


@pytest.mark.parametrize(
    ("headers", "ours"),
    [
        (_headers(origin=PUBLIC, host="10.0.0.5:8000"), True),  # behind the TLS proxy
        (_headers(origin="http://10.0.0.5:8000", host="10.0.0.5:8000"), True),
        (_headers(origin="http://cadence.example.com", host="cadence.example.com"), True),
        (_headers(origin="https://evil.example", host="cadence.example.com"), False),
        (_headers(origin="null", host="cadence.example.com"), False),
        (_headers(origin="https://cadence.example.com.evil.example", host="x"), False),
        (_headers(origin="http://10.0.0.5:8001", host="10.0.0.5:8000"), False),
        (_headers(host="cadence.example.com"), False),
        (_headers(sec_fetch_site="same-origin"), True),
        (_headers(sec_fetch_site="same-site"), False),
        (_headers(origin="https://evil.example", sec_fetch_site="same-origin"), False),
    ],
)
def test_same_origin(headers: Headers, ours: bool) -> None:
    assert same_origin(headers, scheme="http", public_url=PUBLIC) is ours


@pytest.mark.parametrize("url", ["https://cadence.exa\tmple.com", "https://cadence.example.com\n"])
def test_whitespace_urlsplit_would_drop_is_refused(url: str) -> None:
    assert origin_of(url) is None

"""HTML form bodies (multipart or urlencoded) as exact bytes per field.

Starlette decodes form fields to ``str`` and falls back to Latin-1 when a value is not
UTF-8, so a raw message in a field (SendGrid's ``email``, Mailgun's ``body-mime``) could
not be given back byte for byte. Mail in other charsets needs the exact bytes.
"""

from urllib.parse import unquote_to_bytes

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from cadence.inbound.providers.base import Malformed

#: More fields than any provider sends; a form with more is refused, not parsed.
MAX_FIELDS = 1000


def parse_form(content_type: str | None, body: bytes) -> dict[str, bytes]:
    """Fields by name (the first value wins); file parts are kept as their bytes too.

    Raises :class:`Malformed` for another content type or a broken body.
    """
    kind, options = parse_options_header(content_type or "")
    if kind == b"application/x-www-form-urlencoded":
        return _urlencoded(body)
    if kind == b"multipart/form-data":
        boundary = options.get(b"boundary")
        if not boundary:
            raise Malformed("multipart/form-data without a boundary")
        return _multipart(boundary, body)
    raise Malformed(f"expected a form, got {content_type or 'no content type'}")


def _urlencoded(body: bytes) -> dict[str, bytes]:
    fields: dict[str, bytes] = {}
    for pair in body.split(b"&")[: MAX_FIELDS + 1]:
        if not pair:
            continue
        name, _, value = pair.partition(b"=")
        key = unquote_to_bytes(name.replace(b"+", b" ")).decode("utf-8", "replace")
        fields.setdefault(key, unquote_to_bytes(value.replace(b"+", b" ")))
    if len(fields) > MAX_FIELDS:
        raise Malformed("too many form fields")
    return fields


def _multipart(boundary: bytes, body: bytes) -> dict[str, bytes]:
    fields: dict[str, bytes] = {}
    header_name = bytearray()
    header_value = bytearray()
    headers: dict[bytes, bytes] = {}
    data = bytearray()
    parts = 0

    def on_header_field(chunk: bytes, start: int, end: int) -> None:
        header_name.extend(chunk[start:end])

    def on_header_value(chunk: bytes, start: int, end: int) -> None:
        header_value.extend(chunk[start:end])

    def on_header_end() -> None:
        headers[bytes(header_name).lower()] = bytes(header_value)
        header_name.clear()
        header_value.clear()

    def on_part_begin() -> None:
        nonlocal parts
        parts += 1
        if parts > MAX_FIELDS:
            raise Malformed("too many form fields")
        headers.clear()
        data.clear()

    def on_part_data(chunk: bytes, start: int, end: int) -> None:
        data.extend(chunk[start:end])

    def on_part_end() -> None:
        _, options = parse_options_header(headers.get(b"content-disposition", b""))
        name = options.get(b"name")
        if name is not None:
            fields.setdefault(name.decode("utf-8", "replace"), bytes(data))

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
        },
    )
    try:
        parser.write(body)
        parser.finalize()
    except MultipartParseError as error:
        raise Malformed(f"broken multipart body: {error}") from error
    if not fields and body.strip():
        raise Malformed("multipart body has no fields")
    return fields


def field_text(fields: dict[str, bytes], name: str, charset: str = "utf-8") -> str:
    """A field decoded with its charset (bad bytes replaced); '' when absent."""
    value = fields.get(name, b"")
    try:
        return value.decode(charset, "replace")
    except LookupError:  # an unknown charset name from the provider
        return value.decode("utf-8", "replace")

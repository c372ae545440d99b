"""HTML form bodies (multipart or urlencoded) as exact bytes per field.

Starlette decodes form fields to ``str`` and falls back to Latin-1 when a value is not
UTF-8, so a raw message in a field (SendGrid's ``email``, Mailgun's ``body-mime``) could
not be given back byte for byte. Mail in other charsets needs the exact bytes.
"""

from urllib.parse import unquote_to_bytes

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from cadence.inbound.providers.base import Malformed, TooLarge

#: Fields (attachments aside) of a form: Mailgun's and SendGrid's inbound posts have a few
#: dozen. A form with more is refused (413) before its fields are split out: each one is a
#: Python object many times the size of ``a=&``.
MAX_FIELDS = 200
#: Attachments (file parts) of a multipart form, counted apart from the fields.
MAX_FILES = 500


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
    """Counted before split: splitting first would build every pair of a hostile body."""
    if body.count(b"&") >= MAX_FIELDS:
        raise TooLarge(f"more than {MAX_FIELDS} form fields")
    fields: dict[str, bytes] = {}
    for pair in body.split(b"&"):
        if not pair:
            continue
        name, _, value = pair.partition(b"=")
        key = unquote_to_bytes(name.replace(b"+", b" ")).decode("utf-8", "replace")
        fields.setdefault(key, unquote_to_bytes(value.replace(b"+", b" ")))
    return fields


def _multipart(boundary: bytes, body: bytes) -> dict[str, bytes]:
    fields: dict[str, bytes] = {}
    header_name = bytearray()
    header_value = bytearray()
    headers: dict[bytes, bytes] = {}
    data = bytearray()
    counts = {"fields": 0, "files": 0}

    def on_header_field(chunk: bytes, start: int, end: int) -> None:
        header_name.extend(chunk[start:end])

    def on_header_value(chunk: bytes, start: int, end: int) -> None:
        header_value.extend(chunk[start:end])

    def on_header_end() -> None:
        headers[bytes(header_name).lower()] = bytes(header_value)
        header_name.clear()
        header_value.clear()

    def on_headers_finished() -> None:
        _, options = parse_options_header(headers.get(b"content-disposition", b""))
        kind = "files" if b"filename" in options else "fields"
        counts[kind] += 1
        if counts[kind] > (MAX_FILES if kind == "files" else MAX_FIELDS):
            raise TooLarge(f"more than {MAX_FIELDS} form fields or {MAX_FILES} attachments")

    def on_part_begin() -> None:
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
            "on_headers_finished": on_headers_finished,
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

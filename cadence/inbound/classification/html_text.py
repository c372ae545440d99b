"""HTML mail to plain text, keeping what the quote and signature finders need.

Mail clients mark quoted history with elements (Gmail's ``gmail_quote``, Outlook's
``divRplyFwdMsg``, Apple's ``<blockquote type="cite">``) that vanish in plain text, so the
converter leaves marker lines where they start and prefixes blockquoted lines with ``> ``.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

QUOTE_MARKER = "[[cadence:quoted-history]]"
SIGNATURE_MARKER = "[[cadence:signature]]"

_MAX_HTML_CHARS = 400_000

# fmt: off
_BLOCK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "body", "center", "dd", "div", "dl", "dt",
    "fieldset", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr",
    "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "thead", "tfoot", "tr",
    "ul",
})
# fmt: on
_SKIPPED_TAGS = frozenset({"script", "style", "head", "title", "template", "xml"})
_QUOTE_CLASSES = (
    "gmail_quote",
    "yahoo_quoted",
    "moz-cite-prefix",
    "protonmail_quote",
    "zmail_extra",
    "outlookmessageheader",
    "mail-editor-reference-message-container",
)
_QUOTE_IDS = ("divrplyfwdmsg", "appendonsend", "x_divrplyfwdmsg", "mail-editor-reference-message")
_SIGNATURE_CLASSES = ("gmail_signature", "moz-signature")
_SIGNATURE_IDS = ("signature", "x_signature", "applemailsignature")
_SPACES = re.compile(r"[ \t\r\n\f\u00a0\u200b]+")


class _TextBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._line: list[str] = []
        self._line_depth = 0
        self._quote_depth = 0
        self._skip_depth = 0
        self._pre_depth = 0
        self._open: list[tuple[str, bool]] = []

    def _newline(self) -> None:
        text = "".join(self._line).strip()
        if text:
            self.lines.append("> " * self._line_depth + text)
        elif self.lines and self.lines[-1] != "":
            self.lines.append("")
        self._line = []
        self._line_depth = self._quote_depth

    def _marker(self, marker: str) -> None:
        self._newline()
        self.lines.append(marker)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skip_depth += 1
            return
        if tag == "br":
            self._newline()
            return
        if tag in ("img", "meta", "link", "input", "wbr"):
            return
        attributes = {name.lower(): (value or "").lower() for name, value in attrs}
        classes = attributes.get("class", "")
        element_id = attributes.get("id", "")
        quoted = tag == "blockquote"
        if tag in _BLOCK_TAGS or tag == "td":
            self._newline()
        cited = quoted and attributes.get("type") == "cite"
        if any(name in classes for name in _QUOTE_CLASSES) or element_id in _QUOTE_IDS or cited:
            self._marker(QUOTE_MARKER)
        elif any(name in classes for name in _SIGNATURE_CLASSES) or element_id in _SIGNATURE_IDS:
            self._marker(SIGNATURE_MARKER)
        if tag == "hr":
            self._line.append("________________________________")
            self._newline()
        if tag == "pre":
            self._pre_depth += 1
        if quoted:
            self._quote_depth += 1
            self._line_depth = self._quote_depth
        self._open.append((tag, quoted))

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
            return
        # Close up to the matching start tag: real mail HTML leaves many tags unclosed.
        for index in range(len(self._open) - 1, -1, -1):
            if self._open[index][0] == tag:
                for closed_tag, quoted in self._open[index:]:
                    if quoted:
                        self._newline()
                        self._quote_depth = max(0, self._quote_depth - 1)
                        self._line_depth = self._quote_depth
                    if closed_tag == "pre":
                        self._pre_depth = max(0, self._pre_depth - 1)
                del self._open[index:]
                break
        if tag in _BLOCK_TAGS or tag == "td":
            self._newline()

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
        if self._pre_depth:
            parts = data.split("\n")
            for index, part in enumerate(parts):
                if index:
                    self._newline()
                self._line.append(part)
            return
        text = _SPACES.sub(" ", data)
        if text.strip() or (self._line and text):
            if not self._line:
                self._line_depth = self._quote_depth
                text = text.lstrip()
            self._line.append(text)

    def text(self) -> str:
        self._newline()
        return "\n".join(self.lines).strip()


def html_to_text(html: str) -> str:
    """Render ``html`` as plain text lines; never raises on broken markup."""
    builder = _TextBuilder()
    try:
        builder.feed(html[:_MAX_HTML_CHARS])
        builder.close()
    except Exception:  # html.parser gives up on some broken markup; keep what it read
        pass
    return builder.text()

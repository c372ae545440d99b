"""Cells a spreadsheet will not run: every CSV Cadence writes passes its values through
:func:`spreadsheet_cell`, since prospect data (a company name, a subject) is untrusted and a
manager opens the export in Excel or LibreOffice (OWASP "CSV injection")."""

import unicodedata
from collections.abc import Mapping
from typing import Any

#: A cell starting with one of these, even after spaces or invisible format characters, is
#: read as a formula or a command by some spreadsheet; the full-width and small forms are
#: formulas to Excel in East Asian locales.
_FORMULA_START = frozenset("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20\ufe66\ufe62\ufe63\ufe6b")


def spreadsheet_cell(value: Any) -> Any:
    """``value`` with an apostrophe in front when a spreadsheet would treat it as a formula;
    anything but text is returned as it is (a number is never a formula)."""
    if not isinstance(value, str) or not value:
        return value
    if value[0] in _FORMULA_START or _first_visible(value) in _FORMULA_START:
        return "'" + value
    return value


def _first_visible(value: str) -> str:
    """The first character that is neither space nor an invisible format character (a byte
    order mark, a zero-width space or joiner), which a spreadsheet may skip."""
    for char in value:
        if not char.isspace() and unicodedata.category(char) != "Cf":
            return char
    return ""


def spreadsheet_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row for ``csv.DictWriter.writerow`` with every cell made safe."""
    return {key: spreadsheet_cell(value) for key, value in row.items()}

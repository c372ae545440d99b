"""Prospect CSV parsing: every row is validated, bad rows are rejected with their physical
line number and a reason, and a file that is not a CSV text is refused as a whole."""

from pathlib import Path

import pytest

from cadence.authoring.catalog import Catalog, load_catalog
from cadence.core import geography
from cadence.core.errors import InputError
from cadence.sequences.prospect_import import (
    MAX_FIELD_CHARS,
    ProspectRow,
    RejectedRow,
    parse_prospect_csv,
    read_csv_text,
)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(Path("config"), Path("templates"))


def parse(text: str, catalog: Catalog) -> tuple[list[ProspectRow], list[RejectedRow]]:
    return parse_prospect_csv(text, catalog, source="people.csv")


def only_rejection(text: str, catalog: Catalog) -> RejectedRow:
    rows, rejected = parse(text, catalog)
    assert rows == []
    assert len(rejected) == 1
    return rejected[0]


# --- whole-file errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("", "people.csv: the file is empty", id="empty"),
        pytest.param(
            "first_name,company\nAda,Initech\n",
            "people.csv:1: no 'email' column",
            id="no email column",
        ),
        pytest.param(
            "email,Email\na@example.com,b@example.com\n",
            "duplicate columns: email",
            id="duplicate column",
        ),
        pytest.param("email\na@example.com\x00\n", "NUL bytes", id="NUL"),
        pytest.param('email,first_name\na@example.com,"Ada\n', "people.csv:2:", id="open quote"),
        pytest.param('email\n"a@example.com"junk\n', "people.csv:2:", id="junk after quote"),
    ],
)
def test_whole_file_errors(text: str, message: str, catalog: Catalog) -> None:
    with pytest.raises(InputError) as info:
        parse(text, catalog)
    assert message in str(info.value)


def test_header_only(catalog: Catalog) -> None:
    assert parse("email,first_name,last_name\n", catalog) == ([], [])


def test_header_without_trailing_newline(catalog: Catalog) -> None:
    assert parse("email", catalog) == ([], [])


# --- a valid file ---------------------------------------------------------------------------


def test_full_row(catalog: Catalog) -> None:
    text = (
        "email,first_name,last_name,company,title,persona,timezone,country,stage\n"
        "ada@initech.com,Ada,Lovelace,Initech,CEO,ceo,America/New_York,US,mql\n"
    )
    rows, rejected = parse(text, catalog)
    assert rejected == []
    assert rows == [
        ProspectRow(
            line=2,
            email="ada@initech.com",
            first_name="Ada",
            last_name="Lovelace",
            company="Initech",
            title="CEO",
            persona="ceo",
            timezone="America/New_York",
            country="US",
            stage="mql",
            custom={},
        )
    ]


def test_defaults_for_missing_columns(catalog: Catalog) -> None:
    rows, _ = parse("email\nada@initech.com\n", catalog)
    row = rows[0]
    assert (row.first_name, row.company, row.persona) == ("", "", None)
    assert row.timezone == "America/New_York"  # config/team.toml's default_timezone
    assert row.country == "US"
    assert row.stage == "names"


@pytest.mark.parametrize(
    ("country", "zone"),
    [("DE", "Europe/Berlin"), ("FR", "Europe/Paris"), ("JP", "Asia/Tokyo"), ("IN", "Asia/Kolkata")],
)
def test_zone_from_a_single_clock_country(catalog: Catalog, country: str, zone: str) -> None:
    rows, rejected = parse(f"email,country\nada@initech.com,{country}\n", catalog)
    assert rejected == []
    assert rows[0].timezone == zone


@pytest.mark.parametrize("country", ["US", "BR", "AU", "RU"])
def test_zone_required_for_a_country_with_several_clocks(catalog: Catalog, country: str) -> None:
    rejected = only_rejection(f"email,country\nada@initech.com,{country}\n", catalog)
    assert rejected.reason == f"timezone: required for a prospect in {country} (several time zones)"


def test_email_is_normalised_to_lower_case(catalog: Catalog) -> None:
    rows, _ = parse("email\n  Ada.Lovelace@Initech.COM  \n", catalog)
    assert rows[0].email == "ada.lovelace@initech.com"


def test_header_names_are_normalised(catalog: Catalog) -> None:
    rows, _ = parse(" Email ,First Name,last-name\nada@initech.com,Ada,Lovelace\n", catalog)
    assert (rows[0].first_name, rows[0].last_name) == ("Ada", "Lovelace")


def test_extra_columns_become_custom_fields(catalog: Catalog) -> None:
    text = "email,Industry,Deal Size,first_name\nada@initech.com,logistics,50k,Ada\n"
    rows, _ = parse(text, catalog)
    assert rows[0].custom == {"industry": "logistics", "deal_size": "50k"}
    assert rows[0].first_name == "Ada"


def test_unnamed_extra_column_is_ignored(catalog: Catalog) -> None:
    rows, _ = parse("email,\nada@initech.com,stray\n", catalog)
    assert rows[0].custom == {}


@pytest.mark.parametrize(
    ("zone", "country"),
    [
        ("Europe/Berlin", "DE"),
        ("America/New_York", "US"),
        ("Europe/London", "GB"),
        ("Asia/Tokyo", "JP"),
        ("UTC", None),
    ],
)
def test_country_is_derived_from_the_time_zone(
    zone: str, country: str | None, catalog: Catalog
) -> None:
    rows, _ = parse(f"email,timezone\nada@initech.com,{zone}\n", catalog)
    assert rows[0].country == country


def test_explicit_country_wins_and_is_upper_cased(catalog: Catalog) -> None:
    rows, _ = parse("email,timezone,country\nada@initech.com,Europe/Berlin,at\n", catalog)
    assert rows[0].country == "AT"


def test_stage_is_normalised(catalog: Catalog) -> None:
    rows, _ = parse("email,stage\na@initech.com,IN-PROFILE\nb@initech.com,SQL\n", catalog)
    assert [r.stage for r in rows] == ["in_profile", "sql"]


# --- rejected rows --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        pytest.param("not-an-address,ceo,UTC,,names", "email: 'not-an-address'", id="no @"),
        pytest.param("ada@,ceo,UTC,,names", "email: 'ada@'", id="no domain"),
        pytest.param("ada@initech,ceo,UTC,,names", "is not a valid address", id="no tld"),
        pytest.param("a b@initech.com,ceo,UTC,,names", "is not a valid address", id="space"),
        pytest.param("<ada@initech.com>,ceo,UTC,,names", "is not a valid address", id="angle"),
        pytest.param(",ceo,UTC,,names", "email: empty", id="empty email"),
        pytest.param(
            "ada@initech.com,cfo,UTC,,names", "persona: unknown persona 'cfo'", id="unknown persona"
        ),
        pytest.param(
            "ada@initech.com,ceo,Mars/Olympus,,names", "timezone: 'Mars/Olympus'", id="bad zone"
        ),
        pytest.param(
            "ada@initech.com,ceo,../../etc/passwd,,names", "timezone:", id="zone path traversal"
        ),
        pytest.param("ada@initech.com,ceo,europe/berlin,,names", "timezone:", id="zone case"),
        pytest.param("ada@initech.com,ceo,UTC,XX,names", "country: 'XX'", id="bad country"),
        pytest.param("ada@initech.com,ceo,UTC,GER,names", "country: 'GER'", id="alpha-3"),
        pytest.param("ada@initech.com,ceo,UTC,,hot", "stage: 'hot'", id="bad stage"),
        pytest.param(
            "ada@initech.com,ceo,UTC,,names,extra", "6 fields but 5 columns", id="too many fields"
        ),
    ],
)
def test_rejected_row(row: str, reason: str, catalog: Catalog) -> None:
    text = f"email,persona,timezone,country,stage\n{row}\n"
    rejected = only_rejection(text, catalog)
    assert rejected.line == 2
    assert reason in rejected.reason


def test_unknown_persona_lists_the_known_ones(catalog: Catalog) -> None:
    rejected = only_rejection("email,persona\nada@initech.com,cfo\n", catalog)
    for key in catalog.personas:
        assert key in rejected.reason


def test_rejected_row_keeps_the_email(catalog: Catalog) -> None:
    rejected = only_rejection("email,stage\nada@initech.com,hot\n", catalog)
    assert rejected.email == "ada@initech.com"


@pytest.mark.parametrize("char", ["\x01", "\x07", "\x1b", "\r", "\x0b", "\x0c"])
def test_control_characters_are_rejected(char: str, catalog: Catalog) -> None:
    rejected = only_rejection(f'email,first_name\nada@initech.com,"Ada{char}x"\n', catalog)
    assert rejected.reason == "first_name: contains control or line-break characters"
    assert rejected.line == 2


@pytest.mark.parametrize("char", ["\x7f", "\x9b"])
def test_del_and_c1_controls_are_rejected(char: str, catalog: Catalog) -> None:
    rejected = only_rejection(f"email,first_name\nada@initech.com,Ada{char}x\n", catalog)
    assert "control or line-break characters" in rejected.reason


def test_tab_is_allowed(catalog: Catalog) -> None:
    rows, rejected = parse('email,notes\nada@initech.com,"a\tb"\n', catalog)
    assert rejected == []
    assert rows[0].custom == {"notes": "a\tb"}


def test_over_long_field_is_rejected(catalog: Catalog) -> None:
    long_value = "x" * (MAX_FIELD_CHARS + 1)
    rejected = only_rejection(f"email,company\nada@initech.com,{long_value}\n", catalog)
    assert rejected.reason == f"company: longer than {MAX_FIELD_CHARS} characters"


def test_field_at_the_limit_is_accepted(catalog: Catalog) -> None:
    value = "x" * MAX_FIELD_CHARS
    rows, rejected = parse(f"email,company\nada@initech.com,{value}\n", catalog)
    assert rejected == []
    assert rows[0].company == value


def test_duplicate_email_rejects_the_later_row(catalog: Catalog) -> None:
    text = "email,first_name\nada@initech.com,Ada\nbob@initech.com,Bob\nADA@Initech.Com,Ada again\n"
    rows, rejected = parse(text, catalog)
    assert [r.email for r in rows] == ["ada@initech.com", "bob@initech.com"]
    assert rows[0].first_name == "Ada"
    assert rejected == [RejectedRow(4, "ada@initech.com", "duplicate of line 2")]


def test_line_numbers_are_physical_lines(catalog: Catalog) -> None:
    text = (
        "email,first_name,notes\n"  # 1
        'ada@initech.com,Ada,"line one\nline two\nline three"\n'  # 2-4
        "\n"  # 5: blank, skipped
        "bad-address,Bob,x\n"  # 6
        'carl@initech.com,Carl,"a\r\nb"\n'  # 7-8 (\r is a control character)
        "dora@initech.com,Dora,ok\n"  # 9
        "ada@initech.com,Ada,dup\n"  # 10
    )
    rows, rejected = parse(text, catalog)
    assert [(r.line, r.email) for r in rows] == [(2, "ada@initech.com"), (9, "dora@initech.com")]
    assert rows[0].custom == {"notes": "line one\nline two\nline three"}
    assert [(r.line, r.reason.split(":")[0]) for r in rejected] == [
        (6, "email"),
        (7, "notes"),
        (10, "duplicate of line 2"),
    ]


def test_crlf_file(catalog: Catalog) -> None:
    text = "email,first_name\r\nada@initech.com,Ada\r\nbob@initech.com,Bob\r\n"
    rows, rejected = parse(text, catalog)
    assert rejected == []
    assert [(r.line, r.first_name) for r in rows] == [(2, "Ada"), (3, "Bob")]


def test_short_row_leaves_missing_columns_empty(catalog: Catalog) -> None:
    rows, rejected = parse("email,first_name,company\nada@initech.com\n", catalog)
    assert rejected == []
    assert (rows[0].first_name, rows[0].company) == ("", "")


def test_bad_rows_do_not_hide_good_ones(catalog: Catalog) -> None:
    text = "email,stage\nbad,names\nada@initech.com,names\nbob@initech.com,hot\n"
    rows, rejected = parse(text, catalog)
    assert [r.email for r in rows] == ["ada@initech.com"]
    assert [r.line for r in rejected] == [2, 4]


def test_ten_thousand_rows(catalog: Catalog) -> None:
    lines = ["email,first_name,timezone,persona,industry"]
    lines += [f"user{i}@example.com,N{i},America/New_York,ceo,x" for i in range(10_000)]
    rows, rejected = parse("\n".join(lines) + "\n", catalog)
    assert rejected == []
    assert len(rows) == 10_000
    assert rows[-1].line == 10_001
    assert rows[-1].email == "user9999@example.com"
    assert rows[-1].country == "US"


def test_time_zone_database_is_not_rescanned_per_row(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = 0
    real = geography.available_timezones

    def counting() -> set[str]:
        nonlocal calls
        calls += 1
        return real()

    monkeypatch.setattr(geography, "available_timezones", counting)
    lines = ["email,timezone"] + [f"u{i}@example.com,Europe/Berlin" for i in range(50)]
    rows, _ = parse("\n".join(lines), catalog)
    assert len(rows) == 50
    assert calls <= 1


# --- read_csv_text --------------------------------------------------------------------------


def test_read_csv_text_strips_a_bom(tmp_path: Path, catalog: Catalog) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes("email,first_name\r\nada@initech.com,Zoë\r\n".encode("utf-8-sig"))
    text = read_csv_text(path)
    assert text.startswith("email")
    rows, rejected = parse(text, catalog)
    assert rejected == []
    assert rows[0].first_name == "Zoë"


def test_read_csv_text_rejects_non_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("email,first_name\nada@initech.com,Zoë\n".encode("latin-1"))
    with pytest.raises(InputError) as info:
        read_csv_text(path)
    assert str(info.value).startswith(f"{path}: not UTF-8 (byte 35)")


def test_read_csv_text_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        read_csv_text(tmp_path / "absent.csv")


def test_read_csv_text_with_nul_bytes_is_refused_by_the_parser(
    tmp_path: Path, catalog: Catalog
) -> None:
    path = tmp_path / "binary.csv"
    path.write_bytes(b"email\nada@initech.com\x00\x00\n")
    with pytest.raises(InputError, match="NUL bytes"):
        parse(read_csv_text(path), catalog)

"""The reader's small pure parts: which SDRs have a mailbox, where its IMAP URL points, and
how a header cut at the size cap is closed."""

import pytest

from cadence.authoring.config_files import Company, Sender, Team
from cadence.authoring.mailbox_config import Mailbox, OAuth2
from cadence.core.errors import MailboxLoginRefused, NotFoundError
from cadence.inbound.mailboxes.folder_sync import HEADER_BYTES, _whole_lines
from cadence.inbound.mailboxes.imap_session import imap_server
from cadence.inbound.mailboxes.oauth2_tokens import access_token, token_url, xoauth2_string
from cadence.inbound.mailboxes.sdr_mailboxes import sdr_mailboxes

COMPANY = Company(name="Brightwave", domain="brightwave.example", postal_address="1 Main St, SF")


def _sender(name: str, mailbox: Mailbox | None) -> Sender:
    return Sender(
        name=name, full_name=name.title(), email=f"{name}@brightwave.example", mailbox=mailbox
    )


TEAM = Team(
    company=COMPANY,
    sdr=(
        _sender(
            "alex",
            Mailbox(imap="imaps://alex%40brightwave.example@imap.example.com", password_env="A"),
        ),
        _sender("priya", None),
        _sender("jonas", Mailbox(smtp="smtps://jonas@smtp.example.com", password_env="J")),
    ),
)


def test_only_sdrs_with_a_mailbox_are_listed_and_only_those_with_imap_are_read() -> None:
    assert [m.owner for m in sdr_mailboxes(TEAM)] == ["alex", "jonas"]
    assert [m.owner for m in sdr_mailboxes(TEAM, imap_only=True)] == ["alex"]
    assert sdr_mailboxes(TEAM, ["alex"])[0].own_addresses == {"alex@brightwave.example"}


@pytest.mark.parametrize(
    ("names", "imap_only"), [(["priya"], False), (["jonas"], True), (["x"], False)]
)
def test_a_name_without_a_mailbox_is_refused_with_those_that_have_one(
    names: list[str], imap_only: bool
) -> None:
    with pytest.raises(NotFoundError, match="those with one: alex"):
        sdr_mailboxes(TEAM, names, imap_only=imap_only)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("imaps://a%40b.example@imap.example.com", ("imap.example.com", 993, True, "a@b.example")),
        ("imaps://a@imap.example.com:1993", ("imap.example.com", 1993, True, "a")),
        ("imap://a@127.0.0.1", ("127.0.0.1", 143, False, "a")),
    ],
)
def test_the_imap_url_gives_host_port_tls_and_login(url: str, expected: tuple[object, ...]) -> None:
    server = imap_server(Mailbox(imap=url, password_env="P"))
    assert (server.host, server.port, server.tls, server.username) == expected


def test_a_header_cut_at_the_cap_ends_at_its_last_whole_line() -> None:
    cut = (b"In-Reply-To: <a@b>\r\n" + b"X-Junk: " + b"j" * HEADER_BYTES)[:HEADER_BYTES]
    assert _whole_lines(cut) == b"In-Reply-To: <a@b>\r\n\r\n"
    assert _whole_lines(b"Subject: short\r\n\r\n") == b"Subject: short\r\n\r\n"


@pytest.mark.parametrize(
    ("settings", "url"),
    [
        ({"provider": "google"}, "https://oauth2.googleapis.com/token"),
        (
            {"provider": "microsoft", "tenant": "contoso.onmicrosoft.com"},
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
        ),
        (
            {"provider": "generic", "token_url": "https://idp.example/token"},
            "https://idp.example/token",
        ),
    ],
)
def test_each_oauth2_provider_has_its_token_endpoint(settings: dict[str, str], url: str) -> None:
    oauth = OAuth2(client_id_env="ID", refresh_token_env="REFRESH", **settings)
    assert token_url(oauth) == url


def test_a_missing_refresh_token_is_a_refused_login_naming_the_variable() -> None:
    oauth = OAuth2(provider="google", client_id_env="ID", refresh_token_env="REFRESH")
    with pytest.raises(MailboxLoginRefused, match="REFRESH is not set"):
        access_token(oauth, timeout=1, environ={"ID": "client"})


def test_the_xoauth2_string_is_the_mechanisms_format() -> None:
    assert xoauth2_string("a@b.example", "tok") == "user=a@b.example\x01auth=Bearer tok\x01\x01"

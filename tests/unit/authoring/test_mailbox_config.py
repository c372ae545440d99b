"""``[sdr.mailbox]`` in team.toml: what is refused at load, and that no error shows a secret."""

from typing import Any

import pytest
from pydantic import ValidationError

from cadence.authoring.config_files import Sender

IMAP = "imaps://alex%40brightwave.example@imap.example.com:993"


def _sender(**mailbox: Any) -> Sender:
    return Sender.model_validate(
        {"name": "alex", "full_name": "Alex Morgan", "email": "alex@x.example", "mailbox": mailbox}
    )


@pytest.mark.parametrize(
    "mailbox",
    [
        {"imap": IMAP, "password_env": "CADENCE_MAILBOX_ALEX_PASSWORD"},
        {"imap": IMAP, "password_env": "ALEX_APP_PASSWORD", "folders": ["INBOX", "Réponses"]},
        {"smtp": "smtp://alex%40x.example@smtp.example.com:587?starttls=1", "password_env": "P"},
        {"imap": "imap://alex@127.0.0.1:1143", "password_env": "P"},
        {
            "imap": IMAP,
            "oauth2": {
                "provider": "google",
                "client_id_env": "GOOGLE_ID",
                "refresh_token_env": "CADENCE_MAILBOX_ALEX_REFRESH",
            },
        },
    ],
)
def test_a_mailbox_as_the_readme_shows_it_loads(mailbox: dict[str, Any]) -> None:
    assert _sender(**mailbox).mailbox is not None


@pytest.mark.parametrize(
    ("mailbox", "why"),
    [
        (
            {"imap": "imaps://alex:hunter2@imap.example.com", "password_env": "P"},
            "holds a password",
        ),
        ({"imap": "imap://alex@imap.example.com", "password_env": "P"}, "loopback only"),
        ({"smtp": "smtp://alex@smtp.example.com:25", "password_env": "P"}, "loopback only"),
        ({"imap": "imaps://imap.example.com", "password_env": "P"}, "needs the login"),
        ({"imap": IMAP}, "exactly one of password_env and oauth2"),
        ({"imap": IMAP, "password": "hunter2"}, "Extra inputs"),
        ({"imap": IMAP, "password_env": "CADENCE_INBOUND_HMAC_SECRET"}, "Cadence's own"),
        ({"imap": IMAP, "password_env": "cadence_database_url"}, "Cadence's own"),
        (
            {
                "imap": IMAP,
                "oauth2": {
                    "provider": "google",
                    "client_id_env": "ID",
                    "refresh_token_env": "CADENCE_MAILGUN_SIGNING_KEY",
                },
            },
            "Cadence's own",
        ),
        ({"imap": IMAP, "password_env": "P", "folders": ["IN\r\nBOX"]}, "printable"),
        ({"imap": IMAP, "password_env": "../etc/passwd"}, "pattern"),
    ],
)
def test_a_mailbox_that_would_leak_or_mislead_is_refused(mailbox: dict[str, Any], why: str) -> None:
    with pytest.raises(ValidationError) as refused:
        _sender(**mailbox)
    messages = " ".join(error["msg"] for error in refused.value.errors())
    assert why in messages
    assert "hunter2" not in messages

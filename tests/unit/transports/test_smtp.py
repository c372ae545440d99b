"""CADENCE_SMTP_URL parsing: smtp://, smtps://, ?starttls=1, escaped credentials, and a
ConfigurationError (never a bare ValueError, never the password) for anything else."""

import pytest

from cadence.core.errors import ConfigurationError
from cadence.transports.smtp import SmtpSettings, parse_smtp_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("smtp://mail.acme.com", SmtpSettings("mail.acme.com", 25), id="plain"),
        pytest.param("smtp://mail.acme.com:2525", SmtpSettings("mail.acme.com", 2525), id="port"),
        pytest.param(
            "smtps://mail.acme.com",
            SmtpSettings("mail.acme.com", 465, implicit_tls=True),
            id="smtps default port",
        ),
        pytest.param(
            "smtps://mail.acme.com:1465",
            SmtpSettings("mail.acme.com", 1465, implicit_tls=True),
            id="smtps port",
        ),
        pytest.param(
            "smtp://mail.acme.com:587?starttls=1",
            SmtpSettings("mail.acme.com", 587, starttls=True),
            id="starttls=1",
        ),
        pytest.param(
            "smtp://mail.acme.com:587?starttls=true",
            SmtpSettings("mail.acme.com", 587, starttls=True),
            id="starttls=true",
        ),
        pytest.param(
            "smtp://mail.acme.com:587?starttls=0",
            SmtpSettings("mail.acme.com", 587, starttls=False),
            id="starttls=0",
        ),
        pytest.param(
            "smtp://mail.acme.com?timeout=5",
            SmtpSettings("mail.acme.com", 25, timeout=5.0),
            id="timeout",
        ),
        pytest.param(
            "smtp://sam:s3cret@mail.acme.com:587?starttls=1",
            SmtpSettings("mail.acme.com", 587, "sam", "s3cret", starttls=True),
            id="credentials",
        ),
        pytest.param(
            "smtp://sam%40acme.com:p%40ss%3Aw%2Frd%25@mail.acme.com:587",
            SmtpSettings("mail.acme.com", 587, "sam@acme.com", "p@ss:w/rd%"),
            id="escaped credentials",
        ),
        pytest.param(
            "smtp://sam@mail.acme.com", SmtpSettings("mail.acme.com", 25, "sam"), id="user only"
        ),
        pytest.param(
            "smtp://localhost:1025", SmtpSettings("localhost", 1025), id="local test server"
        ),
        pytest.param("smtp://[::1]:2525", SmtpSettings("::1", 2525), id="ipv6"),
        pytest.param("SMTP://Mail.Acme.com", SmtpSettings("mail.acme.com", 25), id="upper case"),
    ],
)
def test_parse_smtp_url(url: str, expected: SmtpSettings) -> None:
    assert parse_smtp_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://mail.acme.com",
        "smtpx://mail.acme.com",
        "mail.acme.com:25",
        "",
        "smtp://",
        "smtp:///path",
        "smtp://mail.acme.com:99999",
        "smtp://mail.acme.com:abc",
        "smtp://mail.acme.com:-1",
        "smtp://mail.acme.com:25:26",
    ],
)
def test_bad_url_is_a_configuration_error(url: str) -> None:
    with pytest.raises(ConfigurationError, match="CADENCE_SMTP_URL"):
        parse_smtp_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://sam:hunter2secret@mail.acme.com",
        "smtp://sam:hunter2secret@mail.acme.com:abc",
        "smtp://sam:hunter2secret@mail.acme.com:70000",
    ],
)
def test_errors_never_show_the_password(url: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_smtp_url(url)
    assert "hunter2secret" not in str(info.value)


@pytest.mark.parametrize("timeout", ["abc", "-1", "0", "nan"])
def test_bad_timeout_is_a_configuration_error(timeout: str) -> None:
    with pytest.raises(ConfigurationError, match="CADENCE_SMTP_URL"):
        parse_smtp_url(f"smtp://mail.acme.com?timeout={timeout}")


def test_port_zero_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        parse_smtp_url("smtp://mail.acme.com:0")


@pytest.mark.parametrize("value", ["TRUE", "Yes", "on"])
def test_starttls_value_is_never_silently_false(value: str) -> None:
    try:
        settings = parse_smtp_url(f"smtp://sam:pw@mail.acme.com:587?starttls={value}")
    except ConfigurationError:
        return
    assert settings.starttls is True

"""An SDR's own mailbox in ``config/team.toml`` (``[sdr.mailbox]``, README "SDR mailboxes").

Secrets never live in the file: a password or an OAuth2 client secret and refresh token are
named by the environment variable that holds them, and read only when a connection is made
(:meth:`Mailbox.secret`). Errors name the variable, never a value, and never echo a URL
(it could carry a password someone pasted into it).
"""

import ipaddress
import os
from collections.abc import Mapping
from typing import Literal
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cadence.core.errors import ConfigurationError

_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _own_secret(name: str | None) -> str | None:
    """A mailbox's secret must be a variable of its own: naming one of Cadence's settings
    (its webhook keys, the database URL) would send that to whatever server team.toml
    names. ``CADENCE_MAILBOX_…`` names are the mailboxes' own."""
    if (
        name is not None
        and name.upper().startswith("CADENCE_")
        and not name.upper().startswith("CADENCE_MAILBOX_")
    ):
        raise ValueError(
            f"{name} is one of Cadence's own settings; name a variable for this mailbox, "
            "for example CADENCE_MAILBOX_ALEX_PASSWORD"
        )
    return name


class OAuth2(_Strict):
    """XOAUTH2 with a refresh token: Google Workspace, Microsoft 365 or another provider."""

    provider: Literal["google", "microsoft", "generic"]
    client_id_env: str = Field(pattern=_ENV_NAME)
    client_secret_env: str | None = Field(default=None, pattern=_ENV_NAME)
    refresh_token_env: str = Field(pattern=_ENV_NAME)
    #: For ``generic``: the provider's token endpoint (https, or http on loopback).
    token_url: str | None = None
    #: For ``microsoft``: the directory (tenant) id; ``common`` when left out.
    tenant: str = Field(default="common", pattern=r"^[A-Za-z0-9.-]{1,100}$")

    @field_validator("client_id_env", "client_secret_env", "refresh_token_env")
    @classmethod
    def _own_variables(cls, name: str | None) -> str | None:
        return _own_secret(name)

    @model_validator(mode="after")
    def _token_url_for_generic(self) -> "OAuth2":
        if self.provider == "generic" and not self.token_url:
            raise ValueError("oauth2 provider 'generic' needs token_url")
        if self.token_url is not None and not _check_secure(
            self.token_url, {"https"}, {"http"}, "token_url"
        ):
            _loopback_only(self.token_url, "token_url")
        return self


class Mailbox(_Strict):
    smtp: str | None = None
    imap: str | None = None
    password_env: str | None = Field(default=None, pattern=_ENV_NAME)
    oauth2: OAuth2 | None = None
    folders: tuple[str, ...] = Field(default=("INBOX",), min_length=1, max_length=20)

    @field_validator("password_env")
    @classmethod
    def _own_variable(cls, name: str | None) -> str | None:
        return _own_secret(name)

    @field_validator("smtp")
    @classmethod
    def _smtp_url(cls, url: str | None) -> str | None:
        if url is not None:
            secure = _check_secure(url, {"smtps"}, {"smtp"}, "smtp", user=True)
            if not secure and "starttls=1" not in urlsplit(url).query.replace(" ", ""):
                _loopback_only(url, "smtp")
        return url

    @field_validator("imap")
    @classmethod
    def _imap_url(cls, url: str | None) -> str | None:
        if url is not None and not _check_secure(url, {"imaps"}, {"imap"}, "imap", user=True):
            _loopback_only(url, "imap")
        return url

    @field_validator("folders")
    @classmethod
    def _folder_names(cls, folders: tuple[str, ...]) -> tuple[str, ...]:
        for folder in folders:
            if not 0 < len(folder) <= 200 or not folder.isprintable() or '"' in folder:
                raise ValueError("a folder name is 1 to 200 printable characters, no quotes")
        return folders

    @model_validator(mode="after")
    def _one_secret(self) -> "Mailbox":
        if self.smtp is None and self.imap is None:
            raise ValueError("a mailbox needs smtp, imap or both")
        if (self.password_env is None) == (self.oauth2 is None):
            raise ValueError("give exactly one of password_env and oauth2")
        return self

    @property
    def username(self) -> str:
        """The login, taken from the URLs (the same user on both sides)."""
        url = self.imap or self.smtp
        assert url is not None
        return unquote(urlsplit(url).username or "")

    def secret(self, environ: Mapping[str, str] | None = None) -> str:
        """The app password from the environment (``password_env``); raises naming the
        variable when it is unset or empty."""
        if self.password_env is None:
            raise ConfigurationError("this mailbox signs in with oauth2, not a password")
        return read_secret(self.password_env, environ)


def read_secret(name: str, environ: Mapping[str, str] | None = None) -> str:
    value = (os.environ if environ is None else environ).get(name, "")
    if not value:
        raise ConfigurationError(f"the environment variable {name} is not set")
    return value


def _check_secure(
    url: str, secure: set[str], plain: set[str], field: str, *, user: bool = False
) -> bool:
    """Whether ``url`` uses a TLS scheme; raises on anything but the allowed schemes, a
    missing host or user, or a password written into the URL."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ValueError(f"{field} is not a valid URL") from None
    schemes = " or ".join(f"{s}://" for s in sorted(secure | plain))
    if parts.scheme not in secure | plain or not parts.hostname:
        raise ValueError(f"{field} must be {schemes} with a host")
    if parts.password is not None:
        raise ValueError(
            f"{field} holds a password: remove it from the URL and name an environment "
            "variable in password_env"
        )
    if user and not parts.username:
        raise ValueError(f"{field} needs the login as the URL's user (user%40domain@host)")
    return parts.scheme in secure


def _loopback_only(url: str, field: str) -> None:
    host = urlsplit(url).hostname or ""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise ValueError(
            f"{field} without TLS is allowed on loopback only: use the TLS scheme "
            "(or starttls=1 for smtp)"
        )

"""Access tokens for mailboxes that sign in with XOAUTH2 (Google Workspace, Microsoft 365,
or another provider's token endpoint), from the refresh token named in team.toml.

All three speak the same OAuth 2.0 refresh-token grant (RFC 6749 section 6), so one small
client over the standard library serves them, with no provider SDK. A token is fetched at
each sign-in: a reader signs in once and keeps its connection (IDLE), so that is rarely.
Errors name the environment variables, never a token.
"""

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping

from cadence.authoring.mailbox_config import OAuth2, read_secret
from cadence.core.errors import ConfigurationError, MailboxLoginRefused, MailboxUnreachable

GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"
MICROSOFT_TOKEN_URL = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
#: What a Microsoft 365 token must allow: IMAP and SMTP as the user, and a new refresh token.
MICROSOFT_SCOPE = (
    "https://outlook.office.com/IMAP.AccessAsUser.All "
    "https://outlook.office.com/SMTP.Send offline_access"
)
#: A token endpoint's answer larger than this is not a token.
_MAX_ANSWER_BYTES = 64 * 1024


def token_url(oauth: OAuth2) -> str:
    if oauth.provider == "google":
        return GOOGLE_TOKEN_URL
    if oauth.provider == "microsoft":
        return MICROSOFT_TOKEN_URL.format(tenant=oauth.tenant)
    assert oauth.token_url is not None  # the config refuses generic without one
    return oauth.token_url


def access_token(oauth: OAuth2, *, timeout: float, environ: Mapping[str, str] | None = None) -> str:
    """A fresh access token for ``oauth``. Raises :class:`MailboxLoginRefused` when a
    variable is unset or the provider refuses the grant, :class:`MailboxUnreachable` when
    the token endpoint cannot be reached."""
    try:
        form = {
            "grant_type": "refresh_token",
            "client_id": read_secret(oauth.client_id_env, environ),
            "refresh_token": read_secret(oauth.refresh_token_env, environ),
        }
        if oauth.client_secret_env is not None:
            form["client_secret"] = read_secret(oauth.client_secret_env, environ)
    except ConfigurationError as exc:
        raise MailboxLoginRefused(f"oauth2 sign-in not tried: {exc}") from exc
    if oauth.provider == "microsoft":
        form["scope"] = MICROSOFT_SCOPE
    url = token_url(oauth)
    request = urllib.request.Request(
        url,
        data=urllib.parse.urlencode(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
        method="POST",
    )
    host = urllib.parse.urlsplit(url).netloc
    try:
        # https, or http on loopback only: the URL was checked when team.toml loaded.
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            body = answer.read(_MAX_ANSWER_BYTES)
    except urllib.error.HTTPError as exc:
        with exc:
            error = _error_code(exc.read(_MAX_ANSWER_BYTES))
        if 400 <= exc.code < 500:
            raise MailboxLoginRefused(
                f"oauth2 token refused by {host} ({exc.code} {error}): sign the SDR in again "
                f"and store the new refresh token in {oauth.refresh_token_env}; check "
                f"{oauth.client_id_env}"
            ) from exc
        raise MailboxUnreachable(f"oauth2 token endpoint {host} answered {exc.code}") from exc
    except (OSError, ValueError) as exc:
        raise MailboxUnreachable(
            f"oauth2 token endpoint {host} unreachable ({type(exc).__name__})"
        ) from exc
    try:
        token = json.loads(body)["access_token"]
    except (ValueError, KeyError, TypeError) as exc:
        raise MailboxUnreachable(f"oauth2 token endpoint {host} sent no access_token") from exc
    if not isinstance(token, str) or not token:
        raise MailboxUnreachable(f"oauth2 token endpoint {host} sent no access_token")
    return token


def xoauth2_string(username: str, token: str) -> str:
    """The SASL XOAUTH2 initial response (before base64), as Google and Microsoft define it."""
    return f"user={username}\x01auth=Bearer {token}\x01\x01"


def _error_code(body: bytes) -> str:
    try:
        error = json.loads(body).get("error", "")
    except (ValueError, AttributeError):
        return "no error code"
    return str(error)[:60] if error else "no error code"

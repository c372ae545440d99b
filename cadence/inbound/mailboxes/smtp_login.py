"""Signing in to an SDR mailbox's SMTP server without sending anything, for
``cadence mailboxes check``: the connection, TLS as the URL asks, then the login with the
app password or, for ``oauth2``, XOAUTH2 with a fresh access token."""

import smtplib
import ssl
from urllib.parse import urlsplit

from cadence.core.errors import ConfigurationError, MailboxLoginRefused, MailboxUnreachable
from cadence.inbound.mailboxes.oauth2_tokens import access_token, xoauth2_string
from cadence.inbound.mailboxes.sdr_mailboxes import SdrMailbox


def smtp_sign_in(sdr: SdrMailbox, timeout: float) -> str:
    """Sign in and out; what worked ("login"). Raises :class:`MailboxLoginRefused` or
    :class:`MailboxUnreachable`, naming the variable to fix and never a secret."""
    mailbox = sdr.mailbox
    assert mailbox.smtp is not None
    parts = urlsplit(mailbox.smtp)
    host, implicit = parts.hostname or "", parts.scheme == "smtps"
    starttls = "starttls=1" in parts.query.replace(" ", "")
    port = parts.port or (465 if implicit else 587 if starttls else 25)
    where = f"{mailbox.username} at {host}:{port}"
    if mailbox.oauth2 is not None:
        secret = access_token(mailbox.oauth2, timeout=timeout)
        fix = f"the oauth2 grant in {mailbox.oauth2.refresh_token_env}"
    else:
        try:
            secret = mailbox.secret()
        except ConfigurationError as exc:
            raise MailboxLoginRefused(f"SMTP login for {where} not tried: {exc}") from exc
        fix = f"the app password in {mailbox.password_env}"
    context = ssl.create_default_context()
    try:
        server = (
            smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
            if implicit
            else smtplib.SMTP(host, port, timeout=timeout)
        )
    except (OSError, smtplib.SMTPException) as exc:
        raise MailboxUnreachable(
            f"SMTP server {host}:{port} unreachable ({type(exc).__name__}): check the smtp URL "
            "and the network"
        ) from exc
    try:
        if starttls and not implicit:
            server.starttls(context=context)
        if mailbox.oauth2 is not None:
            server.ehlo_or_helo_if_needed()
            response = xoauth2_string(mailbox.username, secret)
            # After a refusal the server sends its reason as a challenge: answer it empty.
            server.auth("XOAUTH2", lambda challenge=None: "" if challenge else response)
        else:
            server.login(mailbox.username, secret)
    except smtplib.SMTPAuthenticationError as exc:
        raise MailboxLoginRefused(
            f"SMTP login refused for {where} ({exc.smtp_code}): check {fix}"
        ) from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise MailboxUnreachable(
            f"SMTP session with {where} failed ({type(exc).__name__}: {str(exc)[:120]}): "
            "check the smtp URL (port, starttls=1 or smtps://)"
        ) from exc
    finally:
        try:
            server.quit()
        except (OSError, smtplib.SMTPException):
            server.close()
    return "login"

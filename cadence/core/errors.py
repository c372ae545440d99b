"""One error tree: every message tells the user what to do next."""


class CadenceError(Exception):
    """Base of every error Cadence raises on purpose."""


class ConfigurationError(CadenceError):
    """A setting, config file, cadence or template is wrong; nothing was changed."""


class DefinitionError(ConfigurationError):
    """A cadence, template, persona or team file does not load (names the file and field)."""


class InputError(CadenceError):
    """User input (CSV, CLI argument, event) is invalid; the store was not changed."""


class NotFoundError(InputError):
    """A named prospect, cadence, template or task does not exist."""


class ConflictError(InputError):
    """The request clashes with the current state (for example an already active enrollment)."""


class RenderError(CadenceError):
    """A template could not be rendered for a prospect; the touch fails and nothing is sent."""


class DeliveryError(CadenceError):
    """The transport refused a message for good (for example an SMTP 5xx)."""


class TransientDeliveryError(DeliveryError):
    """The message was not accepted, in a way that may pass (SMTP 4xx, server down, login
    refused): nothing left, so trying again later is safe."""


class MailServerUnavailable(TransientDeliveryError):
    """The server cannot be reached at all: the batch's other emails would only wait for the
    same timeout, so they go back to the queue untried."""


class DeliveryOutcomeUnknown(DeliveryError):
    """The message was handed over but the server's answer was lost (a timeout or a dropped
    connection after DATA): it may have been delivered, so it must never be re-sent blindly."""


class MailboxUnavailable(MailServerUnavailable):
    """An SDR's own mailbox refused the login or could not be reached, before anything was
    handed over: that mailbox stops (its health says why) and its emails wait; the other
    mailboxes' emails go on. ``health`` is ``authentication`` or ``unreachable``."""

    def __init__(self, message: str, *, mailbox: str, health: str) -> None:
        super().__init__(message)
        self.mailbox = mailbox
        self.health = health


class MailboxError(CadenceError):
    """An SDR's own mailbox could not be used; the message names the mailbox and what to
    fix, never a secret."""


class MailboxLoginRefused(MailboxError):
    """The server refused the login (a wrong or revoked password or token), or the secret
    is missing from the environment: a person must fix the credentials."""


class MailboxUnreachable(MailboxError):
    """The server could not be reached, timed out or dropped the connection: it may pass,
    so readers retry with backoff."""

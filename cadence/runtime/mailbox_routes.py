"""The SDR mailboxes that send their owner's email, from ``config/team.toml``: what the
transport router needs, and nothing of the secrets but where to read them."""

from cadence.authoring.config_files import Team
from cadence.core.errors import ConfigurationError
from cadence.transports import MailboxRoute
from cadence.transports.smtp import parse_smtp_url

#: Why an oauth2 mailbox does not send yet; its replies are still read.
OAUTH2_UNSUPPORTED = (
    "sending with oauth2 is not supported yet: give the mailbox password_env (an app "
    "password), or leave smtp out so the team transport sends this SDR's email"
)


def mailbox_routes(team: Team) -> list[MailboxRoute]:
    """One route per SDR whose mailbox has ``smtp``; the others send through the team
    transport. Raises :class:`ConfigurationError` naming the SDR for an unusable URL, or
    the SDRs who share the address of a mailbox (mail From it would leave by that one)."""
    _one_sdr_an_address(team)
    routes = []
    for sender in team.sdr:
        box = sender.mailbox
        if box is None or box.smtp is None:
            continue
        try:
            settings = parse_smtp_url(box.smtp)
        except ConfigurationError as exc:
            raise ConfigurationError(
                f"team.toml: the smtp URL of {sender.name}'s mailbox: "
                + str(exc).replace("CADENCE_SMTP_URL", "it")
            ) from None
        routes.append(
            MailboxRoute(
                owner=sender.name,
                address=str(sender.email),
                settings=settings,
                password=box.secret if box.password_env is not None else None,
                secret_name=box.password_env or "oauth2",
                unsupported=None if box.password_env is not None else OAUTH2_UNSUPPORTED,
            )
        )
    return routes


def _one_sdr_an_address(team: Team) -> None:
    senders: dict[str, list[str]] = {}
    for sender in team.sdr:
        senders.setdefault(str(sender.email).lower(), []).append(sender.name)
    for sender in team.sdr:
        names = senders[str(sender.email).lower()]
        if len(names) > 1 and sender.mailbox is not None and sender.mailbox.smtp is not None:
            raise ConfigurationError(
                f"team.toml: {' and '.join(names)} share the address {sender.email}, and "
                f"{sender.name}'s mailbox sends as it: give each SDR their own address"
            )

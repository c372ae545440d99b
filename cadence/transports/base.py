"""The port every mail transport implements."""

from email.message import EmailMessage
from typing import Protocol


class MailTransport(Protocol):
    def send(self, message: EmailMessage) -> None:
        """Hand ``message`` to the mail system.

        Returns only once the message is accepted. Raises
        :class:`~cadence.core.errors.TransientDeliveryError` when a retry may succeed and
        :class:`~cadence.core.errors.DeliveryError` when it will not.
        """
        ...

    def close(self) -> None:
        """Release connections; the transport may be used again afterwards."""
        ...

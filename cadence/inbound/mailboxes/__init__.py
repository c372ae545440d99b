"""Reading each SDR's own mailbox over IMAP into the inbound path (``cadence mailboxes``)."""

from cadence.inbound.mailboxes.intake import Intake
from cadence.inbound.mailboxes.reader import MailboxPass
from cadence.inbound.mailboxes.sdr_mailboxes import SdrMailbox, sdr_mailboxes
from cadence.inbound.mailboxes.service import process_holder, sync_once, watch_mailboxes

__all__ = [
    "Intake",
    "MailboxPass",
    "SdrMailbox",
    "process_holder",
    "sdr_mailboxes",
    "sync_once",
    "watch_mailboxes",
]

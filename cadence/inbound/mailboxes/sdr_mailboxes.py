"""The SDRs whose own mailbox Cadence reads or checks, picked from the team by name."""

from collections.abc import Sequence
from dataclasses import dataclass

from cadence.authoring.config_files import Team
from cadence.authoring.mailbox_config import Mailbox
from cadence.core.errors import NotFoundError


@dataclass(frozen=True)
class SdrMailbox:
    #: The SDR's name in team.toml: the owner of their prospects, and the store's key.
    owner: str
    #: The address the SDR sends as.
    address: str
    mailbox: Mailbox

    @property
    def own_addresses(self) -> frozenset[str]:
        """Addresses whose mail is the SDR's own (lowercase): their sent copies are never a
        prospect's reply."""
        return frozenset({self.address.lower(), self.mailbox.username.lower()} - {""})


def sdr_mailboxes(
    team: Team, names: Sequence[str] = (), *, imap_only: bool = False
) -> list[SdrMailbox]:
    """The SDRs with a ``[sdr.mailbox]``, in team order, narrowed to ``names`` when given;
    ``imap_only`` keeps those whose replies can be read. Raises :class:`NotFoundError` for a
    name that is not an SDR with a mailbox."""
    found = [
        SdrMailbox(owner=s.name, address=str(s.email), mailbox=s.mailbox)
        for s in team.sdr
        if s.mailbox is not None and (s.mailbox.imap is not None or not imap_only)
    ]
    known = {m.owner for m in found}
    unknown = [name for name in names if name not in known]
    if unknown:
        what = "an imap URL" if imap_only else "a [sdr.mailbox]"
        listed = ", ".join(sorted(known)) or "none"
        raise NotFoundError(
            f"no SDR with {what} named {', '.join(unknown)}; those with one: {listed} "
            "(config/team.toml)"
        )
    return [m for m in found if not names or m.owner in names]

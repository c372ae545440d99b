"""The envelope address read from a composed header agrees with ``parseaddr``, the shortcut
for headers as ``formataddr`` writes them included, on hostile headers too."""

from email.message import EmailMessage
from email.utils import formataddr, parseaddr

from hypothesis import example, given
from hypothesis import strategies as st

from cadence.transports.headers import envelope_address


def _to(value: str) -> EmailMessage:
    message = EmailMessage()
    message._headers = [("To", value)]  # as composed, past the policy's own checks
    return message


@given(st.text(alphabet='ab@.<>" ,\\()[]x:;-_\t', max_size=24))
@example("a@b.c>")
@example("[x] <a@b.io>")
@example("A [b] <c@d.io>")
@example('"A <b@c.io>" <real@x.io>')
@example("Ann <ann@acme.example> (comment)")
@example("x <a@b.io>, y <d@e.io>")
@example("route <@r:a@b.io>")
def test_any_header_reads_as_parseaddr_reads_it(value: str) -> None:
    assert envelope_address(_to(value), "To") == parseaddr(value.strip())[1]


@given(
    st.text(min_size=0, max_size=20),
    st.from_regex(r"[a-z0-9._+-]{1,12}@[a-z0-9-]{1,10}\.[a-z]{2,4}", fullmatch=True),
)
def test_a_composed_recipient_gives_its_address(name: str, address: str) -> None:
    header = formataddr((name, address))
    assert envelope_address(_to(header), "To") == address == parseaddr(header)[1]

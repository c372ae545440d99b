"""What a mailbox may hold that no webhook sends: a header of hundreds of kilobytes, a big
attachment, broken MIME, a folder named with anything a mail client allows."""

from collections.abc import Callable

import pytest

from cadence.inbound.mailboxes import Intake

from .conftest import World

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_messages_over_the_size_cap_are_read_as_their_headers(
    make_world: Callable[..., World],
) -> None:
    world = make_world(mailbox_max_message_bytes=64 * 1024)
    junk = "".join(f"X-Junk-{n}: {'j' * 990}\r\n" for n in range(300))  # 300 KB of header
    world.append(world.reply("ann@acme.example", extra=junk))
    attachment = "Q" * 76 + "\r\n"
    world.append(
        world.reply("bo@globex.example", body="See the deck.\r\n\r\n" + attachment * 14000)
    )
    # Under the cap, 50 KB each: fetched two at a time (at most twice the cap held at once).
    for n in range(5):
        body = f"Part {n} of the RFP.\r\n\r\n" + attachment * 650
        world.append(world.reply("cy@initech.example", body=body, message_id=f"<cy.{n}@x>"))

    done = world.sync()

    assert done.folders[0].truncated == 2
    assert done.folders[0].intake == {Intake.STORED: 7}
    assert {world.state(email) for email in world.touches} == {"halted"}
    for event in world.events()[:2]:
        assert event.raw is not None and event.raw.startswith("X-Cadence-Truncated: headers only")
        assert len(event.raw) <= 64 * 1024 + 100


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_broken_mime_is_kept_raw_and_does_not_stop_the_pass(
    make_world: Callable[..., World],
) -> None:
    world = make_world()
    cy = world.touches["cy@initech.example"]
    broken = (
        b"From: <cy@initech.example>\r\nTo: <alex@brightwave.example>\r\n"
        b"Subject: Re: \xff\xfe broken\r\nMessage-ID: <broken.1@initech.example>\r\n"
        + f"In-Reply-To: {cy.message_id}\r\n".encode()
        + b'Content-Type: multipart/mixed; boundary="never-closed\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n--never\r\n\x00\x01 not base64 at all ===\r\n"
    )
    world.append(broken)
    world.append(world.reply("bo@globex.example"))

    done = world.sync()

    assert done.folders[0].intake == {Intake.STORED: 2}
    assert world.state("cy@initech.example") == world.state("bo@globex.example") == "halted"
    assert len(world.events()) == 2


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_folder_named_with_odd_characters_is_read(make_world: Callable[..., World]) -> None:
    folder = "Réponses & «Clients» [2026] ✓"
    world = make_world(folders=("INBOX", folder))
    world.append(world.reply("ann@acme.example"), folder=folder)

    done = world.sync()
    again = world.sync()

    assert [f.folder for f in done.folders] == ["INBOX", folder]
    assert done.folders[1].intake == {Intake.STORED: 1}
    assert sum(again.folders[1].intake.values()) == 0
    assert world.state("ann@acme.example") == "halted"

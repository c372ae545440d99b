"""Replies read from the SDR's own mailbox on a real Dovecot: the same inbound path as a
webhook, a checkpoint per folder, and the rep's private mail never stored."""

from collections.abc import Callable

import pytest

from cadence.inbound.mailboxes import Intake
from cadence.store.database import transaction
from cadence.store.mailbox_checkpoints import checkpoint
from cadence.store.models import Touch

from .conftest import ALEX, World, message

pytestmark = pytest.mark.integration


def test_a_reply_in_the_inbox_halts_the_sequence_after_one_pass(
    make_world: Callable[..., World],
) -> None:
    world = make_world()
    raw = world.reply("ann@acme.example")
    world.append(raw)

    done = world.sync()

    assert (done.error, dict(done.folders[0].intake)) == (None, {Intake.STORED: 1})
    assert world.state("ann@acme.example") == "halted"
    assert world.state("bo@globex.example") == "active"
    [event] = world.events()
    assert (event.kind, event.source) == ("reply", "mailbox:alex")
    assert event.raw is not None and event.raw.encode() == raw
    client = world.imap()
    client.select_folder("INBOX", readonly=True)
    flags = client.get_flags(client.search("ALL"))
    client.logout()
    assert all(b"\\Seen" not in f for f in flags.values()), "reading marked the rep's mail read"


def test_a_restart_reads_nothing_twice(make_world: Callable[..., World]) -> None:
    world = make_world()
    world.append(world.reply("ann@acme.example"))
    assert world.sync().folders[0].intake == {Intake.STORED: 1}

    again = world.sync(holder="a-restarted-process")
    world.append(world.reply("bo@globex.example"))
    then = world.sync(holder="a-restarted-process")

    assert (sum(again.folders[0].intake.values()), again.folders[0].from_window) == (0, False)
    assert then.folders[0].intake == {Intake.STORED: 1}
    assert [e.kind for e in world.events()] == ["reply", "reply"]
    with transaction(world.ctx.engine) as session:
        mark = checkpoint(session, "alex", "INBOX")
    assert mark is not None and mark.last_uid == 2


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_renumbered_folder_is_read_again_without_duplicate_events(
    make_world: Callable[..., World],
) -> None:
    world = make_world(folders=("INBOX", "Replies"))
    first = world.reply("ann@acme.example")
    world.append(first, folder="Replies")
    world.sync()
    with transaction(world.ctx.engine) as session:
        before = checkpoint(session, "alex", "Replies")
    assert before is not None

    client = world.imap()
    client.delete_folder("Replies")
    client.create_folder("Replies")
    client.logout()
    world.append(first, folder="Replies")
    world.append(world.reply("bo@globex.example"), folder="Replies")
    done = world.sync()

    replies = next(f for f in done.folders if f.folder == "Replies")
    with transaction(world.ctx.engine) as session:
        after = checkpoint(session, "alex", "Replies")
    assert after is not None and after.uidvalidity != before.uidvalidity
    assert replies.from_window
    assert replies.intake == {Intake.DUPLICATE: 1, Intake.STORED: 1}
    assert [e.kind for e in world.events()] == ["reply", "reply"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_same_reply_in_two_folders_is_one_event(make_world: Callable[..., World]) -> None:
    world = make_world(folders=("INBOX", "Archive"))
    raw = world.reply("ann@acme.example")
    world.append(raw)
    world.append(raw, folder="Archive")

    done = world.sync()

    assert [dict(f.intake) for f in done.folders] == [
        {Intake.STORED: 1},
        {Intake.DUPLICATE: 1},
    ]
    assert len(world.events()) == 1
    assert world.state("ann@acme.example") == "halted"


def test_private_mail_and_the_reps_own_sent_copies_are_not_stored(
    make_world: Callable[..., World],
) -> None:
    world = make_world(folders=("INBOX", "Sent"))
    ann = world.touches["ann@acme.example"]
    private = message(
        sender="dentist@clinic.example",
        subject="Your appointment on Friday",
        message_id="<appt.1@clinic.example>",
        body="Reminder: your check-up is on Friday at 9.",
    )
    friend_reply = message(
        sender="friend@home.example",
        subject="Re: dinner",
        message_id="<dinner.2@home.example>",
        in_reply_to="<dinner.1@brightwave.example>",
        body="Saturday works!",
    )
    own_copy = message(
        sender=ALEX,
        to="ann@acme.example",
        subject=f"Re: {ann.subject}",
        message_id="<own.1@brightwave.example>",
        in_reply_to=ann.message_id,
        body="Following up on the below.",
    )
    world.append(private)
    world.append(friend_reply)
    world.append(own_copy, folder="Sent")

    done = world.sync()

    assert [dict(f.intake) for f in done.folders] == [{Intake.PRIVATE: 2}, {Intake.OWN: 1}]
    assert world.events() == []
    assert world.state("ann@acme.example") == "active"


def _plain_bounce(bo: Touch) -> bytes:
    """A bounce with no delivery report: plain text from the mailer daemon."""
    return (
        "From: MAILER-DAEMON@mx.globex.example\r\n"
        f"To: <{ALEX}>\r\nSubject: failure notice\r\n"
        "Message-ID: <bounce.2@mx.globex.example>\r\n\r\n"
        "Hi. This is the qmail-send program at mx.globex.example.\r\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\r\n"
        "This is a permanent error; I've given up. Sorry it didn't work out.\r\n\r\n"
        "<bo@globex.example>:\r\n550 5.1.1 user unknown\r\n\r\n"
        f"--- Below this line is a copy of the message.\r\n\r\nMessage-ID: {bo.message_id}\r\n"
    ).encode()


def _report_bounce(bo: Touch) -> bytes:
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.globex.example>\r\n"
        f"To: <{ALEX}>\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <bounce.1@mx.globex.example>\r\nAuto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.globex.example\r\n\r\n"
        "Final-Recipient: rfc822; bo@globex.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {bo.message_id}\r\nTo: bo@globex.example\r\n\r\n--B--\r\n"
    ).encode()


@pytest.mark.parametrize("bounce", [_report_bounce, _plain_bounce])
def test_a_bounce_of_our_email_is_kept_though_no_prospect_sent_it(
    make_world: Callable[..., World], bounce: Callable[[Touch], bytes]
) -> None:
    world = make_world()
    world.append(bounce(world.touches["bo@globex.example"]))

    world.sync()

    [event] = world.events()
    assert (event.kind, event.source) == ("bounce", "mailbox:alex")
    assert world.state("bo@globex.example") == "halted"

"""Tables of short messages in the languages prospects write in: auto reply or person, the
return date an absence names, and challenge-response requests."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest

from cadence.inbound.classification import classify_message
from cadence.inbound.classification.return_date import find_return_date

MONDAY = datetime.date(2027, 3, 1)
RECEIVED_AT = datetime.datetime(2027, 3, 1, 9, 30, tzinfo=ZoneInfo("Europe/Berlin"))


def message(subject: str, body: str, *, extra: str = "") -> bytes:
    """A message in the thread of one of our touches, with no auto-reply header."""
    return (
        "From: Prospect <p@customer.example>\r\nTo: sam@outreach.example\r\n"
        f"Subject: {subject}\r\nIn-Reply-To: <touch-1@outreach.example>\r\n{extra}"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"{body}\r\n"
    ).encode()


def kind_of(raw: bytes) -> str:
    return classify_message(raw, received_at=RECEIVED_AT).kind


@pytest.mark.parametrize(
    ("subject", "body", "kind"),
    [
        # Out-of-office notices with no Auto-Submitted or X-Autoreply header.
        ("Re: intro", "Esmu atvaļinājumā līdz 12. martam.", "auto_reply"),
        ("Automātiskā atbilde: intro", "Paldies par vēstuli.", "auto_reply"),
        ("Arpus biroja atrasanas automatiska atbilde: intro", "Paldies.", "auto_reply"),
        ("Atvalinajums Re: intro", "Esmu prom.", "auto_reply"),
        ("Odp: intro", "Przebywam na urlopie do 10 marca.", "auto_reply"),
        ("SV: intro", "Jag är på semester till och med 8 mars.", "auto_reply"),
        ("SV: intro", "Jeg er på ferie og er tilbage den 10. marts.", "auto_reply"),
        ("VS: intro", "Olen lomalla 12.3. asti.", "auto_reply"),
        ("Re: intro", "Jsem mimo kancelář do 15. března.", "auto_reply"),
        ("Re: intro", "Я в отпуске до 11 марта.", "auto_reply"),
        ("Re: intro", "3月8日まで休暇のため不在にしております。", "auto_reply"),
        ("Re: intro", "我正在休假，将于3月9日返回。", "auto_reply"),
        ("Ynt: intro", "10 Mart tarihine kadar izindeyim.", "auto_reply"),
        ("RES: intro", "Estarei fora do escritório até 12/03.", "auto_reply"),
        ("[Request received] Re: intro", "Your request (4821) has been received.", "auto_reply"),
        # People answering, in the same languages: replies, never auto replies.
        ("Re: intro", "Jā, runāsim ceturtdien. Vai varat piezvanīt?", "reply"),
        ("Odp: intro", "Dziękuję, proszę o telefon w czwartek.", "reply"),
        ("SV: intro", "Tack, ring mig på torsdag?", "reply"),
        ("VS: intro", "Palaan asiaan ensi viikolla.", "reply"),
        ("Re: intro", "Vrátím se k tomu příští týden.", "reply"),
        ("Re: intro", "Давайте созвонимся в четверг?", "reply"),
        ("Re: intro", "木曜日にお電話いただけますか？", "reply"),
        ("Re: intro", "This inbox is monitored on Fridays only, so call me.", "reply"),
    ],
)
def test_auto_reply_or_person(subject: str, body: str, kind: str) -> None:
    assert kind_of(message(subject, body)) == kind


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Esmu atvaļinājumā un atgriezīšos birojā 9. martā.", datetime.date(2027, 3, 9)),
        ("Jeg er tilbage den 10. marts.", datetime.date(2027, 3, 10)),
        ("Jag är tillbaka måndag 8 mars.", datetime.date(2027, 3, 8)),
        ("Jeg er ikke på kontoret før 5. mars.", datetime.date(2027, 3, 5)),
        ("Olen lomalla 12.3. asti.", datetime.date(2027, 3, 12)),
        ("Jsem mimo kancelář do 15. března 2027.", datetime.date(2027, 3, 15)),
        ("Я в отпуске до 11 марта.", datetime.date(2027, 3, 11)),
        ("3月8日まで不在にしております。", datetime.date(2027, 3, 8)),
        ("2027年4月2日より出社いたします。", datetime.date(2027, 4, 2)),
        ("我正在休假，将于3月9日返回。", datetime.date(2027, 3, 9)),
        ("10 Mart tarihine kadar izindeyim.", datetime.date(2027, 3, 10)),
        ("Przebywam na urlopie do 10 marca 2027 r.", datetime.date(2027, 3, 10)),
        ("Estarei fora até 12/03/2027.", datetime.date(2027, 3, 12)),
    ],
)
def test_return_date(text: str, expected: datetime.date) -> None:
    assert find_return_date(text, today=MONDAY) == expected


@pytest.mark.parametrize(
    ("subject", "body", "kind"),
    [
        ("Re: intro", "Please verify you are a human: click the link below.", "challenge"),
        ("Request to join Ann's Guest List", "Add yourself to my guest list.", "challenge"),
        ("Re: intro", "Your message about intro was waitlisted by Boxbe.", "challenge"),
        (
            "Undeliverable: intro",
            "This recipient only accepts mail from approved senders.",
            "challenge",
        ),
        (
            "Re: intro",
            "Fill out the short request form to be added to my approved senders.",
            "challenge",
        ),
        ("Re: intro", "Sure, I'll add you to my contacts. Talk Thursday?", "reply"),
        ("Re: intro", "Our whitelist process is run by IT, not me.", "reply"),
        (
            "Undeliverable: intro",
            "Your message could not be delivered.\n550 5.7.1 This list only accepts mail from "
            "approved senders.",
            "bounce",
        ),
    ],
)
def test_challenge_response(subject: str, body: str, kind: str) -> None:
    assert kind_of(message(subject, body)) == kind


def test_a_bounce_that_mentions_a_whitelist_is_still_a_bounce() -> None:
    raw = (
        b"From: MAILER-DAEMON@mx.example\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; "
        b'boundary="B"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nAsk the recipient to add '
        b"you to their safe senders.\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        b"Final-Recipient: rfc822; ann@x.example\r\nAction: failed\r\nStatus: 5.7.1\r\n"
        b"Diagnostic-Code: smtp; 550 5.7.1 blocked using bl.example\r\n\r\n--B--\r\n"
    )
    verdict = classify_message(raw, received_at=RECEIVED_AT)

    assert (verdict.kind, verdict.bounce_reason, verdict.rejects_sender) == (
        "bounce",
        "blocked",
        True,
    )


@pytest.mark.parametrize(
    ("subject", "body", "kind"),
    [
        (
            "Abuse report",
            "This is an email abuse report for a message from 192.0.2.7.",
            "complaint",
        ),
        ("[SpamCop (http://spamcop.example/) id:1234]", "Spam report attached.", "complaint"),
        (
            "Complaint",
            "We received a spam complaint about a message sent from your server.",
            "complaint",
        ),
        ("JMRP", "This is a Junk Mail Reporting Program report.", "complaint"),
        ("Re: intro", "Please stop, I marked this message as spam.", "complaint"),
        ("Re: intro", "Our spam filter caught your mail, but it looks interesting?", "reply"),
    ],
)
def test_complaints_in_prose(subject: str, body: str, kind: str) -> None:
    assert kind_of(message(subject, body)) == kind


@pytest.mark.parametrize(
    ("subject", "body", "extra", "kind"),
    [
        # A person answering about a bounce is a reply: the reply must halt the sequence.
        (
            "RE: Undeliverable: intro",
            "FYI your email to bob@customer.example could not be delivered, he left.",
            "",
            "reply",
        ),
        # An auto reply whose footer happens to say "could not be delivered".
        (
            "Automatic reply: intro",
            "I am out of the office until 8 March.\n\nDisclaimer: if this message could not "
            "be delivered to the intended recipient, delete it.",
            "Auto-Submitted: auto-replied\r\n",
            "auto_reply",
        ),
        # A gateway that keeps the original subject and adds the failure after it.
        (
            "RE: intro : non remis",
            "Your message could not be delivered to\nann@customer.example",
            "",
            "bounce",
        ),
    ],
)
def test_bounce_or_not(subject: str, body: str, extra: str, kind: str) -> None:
    assert kind_of(message(subject, body, extra=extra)) == kind

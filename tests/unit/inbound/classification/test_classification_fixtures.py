"""Every fixture under tests/fixtures/inbound, classified, against what a person would say."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cadence.inbound.classification import Verdict, classify_message

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "inbound"
# A Monday morning in Berlin: return dates without a year resolve from here.
RECEIVED_AT = datetime.datetime(2027, 3, 1, 9, 30, tzinfo=ZoneInfo("Europe/Berlin"))
ORIGINAL = "<touch-1042.1@outreach.cadence.example>"


@dataclass(frozen=True)
class Expected:
    kind: str
    bounce: str | None = None
    addresses: tuple[str, ...] = ()
    return_date: datetime.date | None = None
    says: tuple[str, ...] = ()  # fragments reply_text must contain
    omits: tuple[str, ...] = ()  # fragments reply_text must not contain (quotes, signature)
    cites_original: bool = False  # ORIGINAL must be the first reference


def march(day: int) -> datetime.date:
    return datetime.date(2027, 3, day)


QUOTED = ("Sam Seller", "quick question", ">")
CASES: dict[str, Expected] = {
    # Replies: the person's words without the quote header, quoted lines or signature.
    "reply_gmail_en.rfc822": Expected(
        "reply",
        addresses=("anna.berg@acme-logistics.com",),
        says=("Can we talk Thursday at 3pm?",),
        omits=(*QUOTED, "VP Operations", "Best,", "unsubscribe"),
        cites_original=True,
    ),
    "reply_outlook_desktop_en.rfc822": Expected(
        "reply",
        addresses=("tharris@northwind-traders.com",),
        says=("We’re already evaluating two vendors",),
        omits=("Original Message", "Director of Sales", "Thanks,", "SDR team"),
    ),
    "reply_outlook_web_html.rfc822": Expected(
        "reply",
        says=("next Tuesday at 10:00 works",),
        omits=("From:", "Head of Growth", "worth a quick call"),
    ),
    "reply_outlook_de.rfc822": Expected(
        "reply",
        addresses=("j.mueller@beispiel-gmbh.de",),
        says=("grundsätzlich interessant",),
        omits=("Mit freundlichen Grüßen", "Von:", "Leiter Vertrieb", "kurze Frage"),
    ),
    "reply_apple_mail_en.rfc822": Expected(
        "reply", says=("Try me again in Q3.",), omits=("wrote:", "patient outreach")
    ),
    "reply_thunderbird_fr.rfc822": Expected(
        "reply",
        says=("rendez-vous la semaine prochaine",),
        omits=("a écrit", "Directrice", "une question rapide"),
    ),
    "reply_iphone_es.rfc822": Expected(
        "reply",
        addresses=("maria.garcia@ejemplo.es",),
        says=("¿Puedes enviarme precios para 20 usuarios?",),
        omits=("iPhone", "escribió", "Hola María"),
    ),
    "reply_android_nl.rfc822": Expected(
        "reply", says=("bel me donderdag",), omits=("Android", "schreef", "Groeten")
    ),
    "reply_gmail_pt.rfc822": Expected(
        "reply",
        says=("quarta-feira às 14h",),
        omits=("escreveu", "Atenciosamente", "Gerente"),
    ),
    "reply_gmail_it.rfc822": Expected(
        "reply", says=("ricontattami a settembre",), omits=("ha scritto", "Cordiali", "Rossi")
    ),
    "reply_thunderbird_pl.rfc822": Expected(
        "reply", says=("chętnie porozmawiam",), omits=("pisze", "Pozdrawiam", "krótkie pytanie")
    ),
    "reply_gmail_de_wrapped.rfc822": Expected(
        "reply", says=("Donnerstag um 15 Uhr?",), omits=("schrieb", "Viele Grüße", "sam@")
    ),
    "reply_html_only_gmail.rfc822": Expected(
        "reply", says=("Wednesday at 11am GMT?",), omits=("COO", "wrote:", "fleet", "Cheers")
    ),
    "reply_outlook_mobile.rfc822": Expected(
        "reply", says=("Send me two references.",), omits=("Outlook", "From:", "branch")
    ),
    "reply_inline_answers.rfc822": Expected(
        "reply",
        says=("Twelve, growing to twenty", "Yes, in Salesforce"),
        omits=("How many SDRs", "wrote:"),
    ),
    "reply_yahoo.rfc822": Expected(
        "reply", says=("this is overkill for us",), omits=("wrote:", "sales team")
    ),
    "reply_no_thread_headers.rfc822": Expected(
        "reply", addresses=("grace.liu@litware.com",), says=("RevOps lead",)
    ),
    "reply_not_interested.rfc822": Expected(
        "reply", says=("Not interested",), omits=("unsubscribe", "Original")
    ),
    "reply_mentions_ooo.rfc822": Expected("reply", says=("happy to talk then",)),
    "reply_broken_utf8.rfc822": Expected("reply", says=("Très intéressant",)),
    "reply_unknown_charset.rfc822": Expected("reply", says=("Send me the deck",)),
    "reply_8bit_headers.rfc822": Expected(
        "reply", addresses=("soren@nordic-example.no",), says=("let's talk on Friday",)
    ),
    "reply_malformed_mime.rfc822": Expected(
        "reply", says=("20 minutes on my calendar",), omits=("boundary", "Content-Type")
    ),
    "reply_outlook_html_border_en.rfc822": Expected(
        "reply",
        says=("Reach out again in May",),
        omits=("From:", "Regards", "VP Partnerships", "partner team"),
    ),
    "reply_bottom_posted.rfc822": Expected(
        "reply", says=("What does it cost",), omits=("wrote:", "booking team", "Dev")
    ),
    "reply_quoted_footer_unsubscribe.rfc822": Expected(
        "reply", says=("short call",), omits=("unsubscribe",)
    ),
    # Requests to stop, in eight languages.
    "unsub_en_remove_me.rfc822": Expected(
        "unsubscribe", addresses=("mark.evans@trey-research.com",), says=("remove me",)
    ),
    "unsub_en_stop_emailing.rfc822": Expected("unsubscribe", says=("Stop emailing me",)),
    "unsub_de.rfc822": Expected("unsubscribe", omits=("Mit freundlichen",)),
    "unsub_fr.rfc822": Expected("unsubscribe", says=("ne plus me contacter",)),
    "unsub_es.rfc822": Expected("unsubscribe", says=("denme de baja",)),
    "unsub_nl.rfc822": Expected("unsubscribe", says=("uitschrijven",)),
    "unsub_pt.rfc822": Expected("unsubscribe", says=("me remova",)),
    "unsub_it.rfc822": Expected("unsubscribe", says=("cancellarmi",)),
    "unsub_pl.rfc822": Expected("unsubscribe", says=("usunięcie",)),
    "unsub_html_outlook_es.rfc822": Expected(
        "unsubscribe", says=("no me contacten",), omits=("Saludos", "De:", "baja")
    ),
    "unsub_subject_only.rfc822": Expected(
        "unsubscribe", addresses=("henrik@contoso-nordic.example",)
    ),
    "unsub_stop_iphone.rfc822": Expected("unsubscribe", says=("STOP",), omits=("iPhone",)),
    # Auto replies, with the return date when the notice names one.
    "auto_exchange_en.rfc822": Expected(
        "auto_reply", addresses=("steve.lang@acme-corp.example",), return_date=march(12)
    ),
    "auto_exchange_de_html.rfc822": Expected("auto_reply", return_date=march(15)),
    "auto_gmail_vacation.rfc822": Expected("auto_reply", return_date=march(8)),
    "auto_de_abwesenheit.rfc822": Expected("auto_reply", return_date=march(15)),
    "auto_fr.rfc822": Expected("auto_reply", return_date=march(10)),
    "auto_es.rfc822": Expected("auto_reply", return_date=march(8)),
    "auto_nl.rfc822": Expected("auto_reply", return_date=march(8)),
    "auto_pt.rfc822": Expected("auto_reply", return_date=march(11)),
    "auto_it.rfc822": Expected("auto_reply", return_date=march(15)),
    "auto_pl.rfc822": Expected("auto_reply", return_date=march(11)),
    "auto_us_numeric.rfc822": Expected("auto_reply", return_date=march(10)),
    "auto_weekday.rfc822": Expected("auto_reply", return_date=march(4)),
    "auto_subject_only.rfc822": Expected("auto_reply"),
    "auto_body_only_unthreaded.rfc822": Expected("auto_reply"),
    "auto_challenge_response.rfc822": Expected("auto_reply"),
    "auto_ticket.rfc822": Expected("auto_reply"),
    "auto_left_company.rfc822": Expected("auto_reply"),
    "auto_read_receipt.rfc822": Expected("auto_reply", cites_original=True),
    "auto_lotus_notes.rfc822": Expected("auto_reply", return_date=march(9)),
    # Bounces: hard when the address is gone, soft when it may work later.
    "bounce_postfix_dsn_hard.rfc822": Expected(
        "bounce", "hard", ("ghost.user@acme-logistics.com",), cites_original=True
    ),
    "bounce_postfix_delay.rfc822": Expected(
        "bounce", "soft", ("slow@far-away.example",), cites_original=True
    ),
    "bounce_gmail_failure.rfc822": Expected(
        "bounce", "hard", ("nobody.here@gmail.com",), cites_original=True
    ),
    "bounce_gmail_delay.rfc822": Expected(
        "bounce", "soft", ("busy@mailbox-full.example",), cites_original=True
    ),
    "bounce_o365_dsn.rfc822": Expected(
        "bounce", "hard", ("former.employee@contoso.com",), cites_original=True
    ),
    "bounce_exchange2003_text.rfc822": Expected("bounce", "hard", ("kim.lee@oldcorp.example",)),
    "bounce_exim_hard.rfc822": Expected(
        "bounce", "hard", ("nosuchuser@hosting-example.net",), cites_original=True
    ),
    "bounce_exim_quota.rfc822": Expected(
        "bounce", "soft", ("full.box@smallbiz.example",), cites_original=True
    ),
    "bounce_exim_delay.rfc822": Expected("bounce", "soft", ("waiting@slow-mx.example",)),
    "bounce_qmail.rfc822": Expected(
        "bounce", "hard", ("old.account@qmail-host.example",), cites_original=True
    ),
    "bounce_sendmail.rfc822": Expected(
        "bounce", "hard", ("jsmith@legacy.example.org",), cites_original=True
    ),
    "bounce_sendmail_warning.rfc822": Expected("bounce", "soft", ("later@unreachable.example",)),
    "bounce_yahoo.rfc822": Expected(
        "bounce", "hard", ("gone.forever@yahoo.com",), cites_original=True
    ),
    "bounce_lotus_domino.rfc822": Expected(
        "bounce", "hard", ("hweber@acme-industrie.de",), cites_original=True
    ),
    "bounce_groupwise.rfc822": Expected(
        "bounce", "hard", ("r.clerk@county-gov.example",), cites_original=True
    ),
    "bounce_mailbox_full_dsn.rfc822": Expected(
        "bounce", "soft", ("stuffed@overflow.example",), cites_original=True
    ),
    "bounce_german_text.rfc822": Expected(
        "bounce", "hard", ("falsch@beispiel-gmbh.de",), cites_original=True
    ),
    "bounce_amazon_ses.rfc822": Expected("bounce", "hard", ("typo@gmial.example",)),
    "bounce_base64_dsn_windows1252.rfc822": Expected("bounce", "hard", ("absent@exemple-sa.fr",)),
    "bounce_mimecast.rfc822": Expected("bounce", "hard", ("l.moreau@bigbank-example.com",)),
    "bounce_o365_delay_text.rfc822": Expected("bounce", "soft", ("lee.wong@slowpoke-example.com",)),
    "bounce_success_relay.rfc822": Expected("unknown"),
    # Spam complaints.
    "complaint_arf_yahoo.rfc822": Expected(
        "complaint", addresses=("angry.reader@yahoo.com",), cites_original=True
    ),
    "complaint_arf_redacted.rfc822": Expected(
        "complaint", addresses=("busy.person@hotmail.com",), cites_original=True
    ),
    "complaint_jmrp_outlook.rfc822": Expected(
        "complaint", addresses=("upset.buyer@outlook.com",), cites_original=True
    ),
    "complaint_arf_not_spam.rfc822": Expected("unknown"),
    # Nothing to act on.
    "unknown_newsletter.rfc822": Expected("unknown"),
    "unknown_noreply_notification.rfc822": Expected("unknown"),
    "unknown_auto_generated_notice.rfc822": Expected("unknown"),
    "unknown_empty.rfc822": Expected("unknown"),
    "unknown_whitespace.rfc822": Expected("unknown"),
    "unknown_random_bytes.rfc822": Expected("unknown"),
    "unknown_headers_only_garbage.rfc822": Expected("unknown"),
}


def classify(name: str) -> Verdict:
    return classify_message((FIXTURES / name).read_bytes(), received_at=RECEIVED_AT)


def test_every_fixture_has_an_expectation() -> None:
    on_disk = {path.name for path in FIXTURES.glob("*.rfc822")}
    assert on_disk == set(CASES)


@pytest.mark.parametrize(("name", "expected"), sorted(CASES.items()))
def test_fixture(name: str, expected: Expected) -> None:
    verdict = classify(name)

    assert verdict.kind == expected.kind, verdict.reason
    assert verdict.bounce == expected.bounce
    assert verdict.reason
    for address in expected.addresses:
        assert address in verdict.addresses
    if expected.kind in ("reply", "auto_reply", "unsubscribe"):
        assert verdict.addresses == ((verdict.sender,) if verdict.sender else ())
    assert verdict.return_date == expected.return_date
    if expected.kind in ("reply", "unsubscribe"):
        assert verdict.reply_text is not None
        for fragment in expected.says:
            assert fragment in verdict.reply_text
        for fragment in expected.omits:
            assert fragment not in verdict.reply_text
    else:
        assert verdict.reply_text is None
    if expected.cites_original:
        assert verdict.references[:1] == (ORIGINAL,)
    assert all(ref.startswith("<") and ref.endswith(">") for ref in verdict.references)
    assert all(address == address.lower() for address in verdict.addresses)


def test_bounce_reason_names_the_status_code() -> None:
    assert "5.1.1" in classify("bounce_postfix_dsn_hard.rfc822").reason
    assert "5.2.2" in classify("bounce_mailbox_full_dsn.rfc822").reason


def test_auto_reply_reason_names_the_header() -> None:
    assert classify("auto_gmail_vacation.rfc822").reason == "Auto-Submitted: auto-replied"


def test_reply_references_put_in_reply_to_first() -> None:
    verdict = classify("reply_inline_answers.rfc822")
    assert verdict.references == (ORIGINAL, "<touch-1041.1@outreach.cadence.example>")

"""The project's own fixtures: what a person would read in each reply, beyond its labels.

Kind, bounce, reason, addresses and return date come from tests/fixtures/inbound/manifest.toml
(test_labelled_samples.py checks them for every sample); this file adds what the manifest
does not hold: the words a reply's text must keep and lose, and the Message-ID it must cite.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from cadence.inbound.classification import Verdict
from tests.unit.inbound.classification.labelled import FIXTURES, Sample, classify, load_samples

ORIGINAL = "<touch-1042.1@outreach.cadence.example>"
PROJECT = {sample.file: sample for sample in load_samples() if "/" not in sample.file}


@dataclass(frozen=True)
class Text:
    says: tuple[str, ...] = ()  # fragments reply_text must contain
    omits: tuple[str, ...] = ()  # fragments reply_text must not contain (quotes, signature)
    cites_original: bool = False  # ORIGINAL must be the first reference


CASES: dict[str, Text] = {
    "reply_gmail_en.rfc822": Text(
        says=("Can we talk Thursday at 3pm?",),
        omits=("Sam Seller", "quick question", ">", "VP Operations", "Best,", "unsubscribe"),
        cites_original=True,
    ),
    "reply_outlook_desktop_en.rfc822": Text(
        says=("We’re already evaluating two vendors",),
        omits=("Original Message", "Director of Sales", "Thanks,", "SDR team"),
    ),
    "reply_outlook_web_html.rfc822": Text(
        says=("next Tuesday at 10:00 works",),
        omits=("From:", "Head of Growth", "worth a quick call"),
    ),
    "reply_outlook_de.rfc822": Text(
        says=("grundsätzlich interessant",),
        omits=("Mit freundlichen Grüßen", "Von:", "Leiter Vertrieb", "kurze Frage"),
    ),
    "reply_apple_mail_en.rfc822": Text(
        says=("Try me again in Q3.",), omits=("wrote:", "patient outreach")
    ),
    "reply_thunderbird_fr.rfc822": Text(
        says=("rendez-vous la semaine prochaine",),
        omits=("a écrit", "Directrice", "une question rapide"),
    ),
    "reply_iphone_es.rfc822": Text(
        says=("¿Puedes enviarme precios para 20 usuarios?",),
        omits=("iPhone", "escribió", "Hola María"),
    ),
    "reply_android_nl.rfc822": Text(
        says=("bel me donderdag",), omits=("Android", "schreef", "Groeten")
    ),
    "reply_gmail_pt.rfc822": Text(
        says=("quarta-feira às 14h",), omits=("escreveu", "Atenciosamente", "Gerente")
    ),
    "reply_gmail_it.rfc822": Text(
        says=("ricontattami a settembre",), omits=("ha scritto", "Cordiali", "Rossi")
    ),
    "reply_thunderbird_pl.rfc822": Text(
        says=("chętnie porozmawiam",), omits=("pisze", "Pozdrawiam", "krótkie pytanie")
    ),
    "reply_gmail_de_wrapped.rfc822": Text(
        says=("Donnerstag um 15 Uhr?",), omits=("schrieb", "Viele Grüße", "sam@")
    ),
    "reply_html_only_gmail.rfc822": Text(
        says=("Wednesday at 11am GMT?",), omits=("COO", "wrote:", "fleet", "Cheers")
    ),
    "reply_outlook_mobile.rfc822": Text(
        says=("Send me two references.",), omits=("Outlook", "From:", "branch")
    ),
    "reply_inline_answers.rfc822": Text(
        says=("Twelve, growing to twenty", "Yes, in Salesforce"), omits=("How many SDRs", "wrote:")
    ),
    "reply_yahoo.rfc822": Text(says=("this is overkill for us",), omits=("wrote:", "sales team")),
    "reply_no_thread_headers.rfc822": Text(says=("RevOps lead",)),
    "reply_not_interested.rfc822": Text(
        says=("Not interested",), omits=("unsubscribe", "Original")
    ),
    "reply_mentions_ooo.rfc822": Text(says=("happy to talk then",)),
    "reply_broken_utf8.rfc822": Text(says=("Très intéressant",)),
    "reply_unknown_charset.rfc822": Text(says=("Send me the deck",)),
    "reply_8bit_headers.rfc822": Text(says=("let's talk on Friday",)),
    "reply_malformed_mime.rfc822": Text(
        says=("20 minutes on my calendar",), omits=("boundary", "Content-Type")
    ),
    "reply_outlook_html_border_en.rfc822": Text(
        says=("Reach out again in May",),
        omits=("From:", "Regards", "VP Partnerships", "partner team"),
    ),
    "reply_bottom_posted.rfc822": Text(
        says=("What does it cost",), omits=("wrote:", "booking team", "Dev")
    ),
    "reply_quoted_footer_unsubscribe.rfc822": Text(says=("short call",), omits=("unsubscribe",)),
    "unsub_en_remove_me.rfc822": Text(says=("remove me",)),
    "unsub_en_stop_emailing.rfc822": Text(says=("Stop emailing me",)),
    "unsub_de.rfc822": Text(omits=("Mit freundlichen",)),
    "unsub_fr.rfc822": Text(says=("ne plus me contacter",)),
    "unsub_es.rfc822": Text(says=("denme de baja",)),
    "unsub_nl.rfc822": Text(says=("uitschrijven",)),
    "unsub_pt.rfc822": Text(says=("me remova",)),
    "unsub_it.rfc822": Text(says=("cancellarmi",)),
    "unsub_pl.rfc822": Text(says=("usunięcie",)),
    "unsub_html_outlook_es.rfc822": Text(
        says=("no me contacten",), omits=("Saludos", "De:", "baja")
    ),
    "unsub_stop_iphone.rfc822": Text(says=("STOP",), omits=("iPhone",)),
    "auto_read_receipt.rfc822": Text(cites_original=True),
    "bounce_postfix_dsn_hard.rfc822": Text(cites_original=True),
    "bounce_postfix_delay.rfc822": Text(cites_original=True),
    "bounce_gmail_failure.rfc822": Text(cites_original=True),
    "bounce_gmail_delay.rfc822": Text(cites_original=True),
    "bounce_o365_dsn.rfc822": Text(cites_original=True),
    "bounce_exim_hard.rfc822": Text(cites_original=True),
    "bounce_exim_quota.rfc822": Text(cites_original=True),
    "bounce_qmail.rfc822": Text(cites_original=True),
    "bounce_sendmail.rfc822": Text(cites_original=True),
    "bounce_yahoo.rfc822": Text(cites_original=True),
    "bounce_lotus_domino.rfc822": Text(cites_original=True),
    "bounce_groupwise.rfc822": Text(cites_original=True),
    "bounce_mailbox_full_dsn.rfc822": Text(cites_original=True),
    "bounce_german_text.rfc822": Text(cites_original=True),
    "complaint_arf_yahoo.rfc822": Text(cites_original=True),
    "complaint_arf_redacted.rfc822": Text(cites_original=True),
    "complaint_jmrp_outlook.rfc822": Text(cites_original=True),
}


def verdict_of(name: str) -> Verdict:
    return classify(PROJECT[name])


def test_every_fixture_has_a_label() -> None:
    on_disk = {path.name for path in FIXTURES.glob("*.rfc822")}
    assert on_disk == set(PROJECT)
    assert set(CASES) <= set(PROJECT)


@pytest.mark.parametrize("sample", sorted(PROJECT.values(), key=lambda s: s.file), ids=str)
def test_fixture_text(sample: Sample) -> None:
    verdict = verdict_of(sample.file)
    expected = CASES.get(sample.file, Text())

    assert verdict.reason
    if sample.kind in ("reply", "auto_reply", "unsubscribe"):
        assert verdict.addresses == ((verdict.sender,) if verdict.sender else ())
    if sample.kind in ("reply", "unsubscribe"):
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
    assert "5.1.1" in verdict_of("bounce_postfix_dsn_hard.rfc822").reason
    assert "5.2.2" in verdict_of("bounce_mailbox_full_dsn.rfc822").reason


def test_auto_reply_reason_names_the_header() -> None:
    assert verdict_of("auto_gmail_vacation.rfc822").reason == "Auto-Submitted: auto-replied"


def test_reply_references_put_in_reply_to_first() -> None:
    verdict = verdict_of("reply_inline_answers.rfc822")
    assert verdict.references == (ORIGINAL, "<touch-1041.1@outreach.cadence.example>")

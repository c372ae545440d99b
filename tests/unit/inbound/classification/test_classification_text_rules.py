"""Table-driven cases for the text rules: quotes, signatures, return dates, requests to stop."""

from __future__ import annotations

import datetime

import pytest

from cadence.inbound.classification.html_text import html_to_text
from cadence.inbound.classification.reply_text import own_words
from cadence.inbound.classification.return_date import find_return_date
from cadence.inbound.classification.unsubscribe import unsubscribe_reason

MONDAY = datetime.date(2027, 3, 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Yes please.\n\nOn Mon, Mar 1, 2027 at 8:02 AM Sam <s@x.io> wrote:\n> Hi", "Yes please."),
        ("Ja.\n\nAm 01.03.2027 um 08:02 schrieb Sam <s@x.io>:\n> Hallo", "Ja."),
        ("Ja.\n\nSam Seller <s@x.io> schrieb am Mo., 1. März 2027, 08:02:\n> Hallo", "Ja."),
        ("Oui.\n\nLe lun. 1 mars 2027 à 08:02, Sam <s@x.io> a écrit :\n> Bonjour", "Oui."),
        ("Sí.\n\nEl lun, 1 mar 2027 a las 8:02, Sam (<s@x.io>) escribió:\n> Hola", "Sí."),
        ("Ja.\n\nOp ma 1 mrt. 2027 om 08:02 schreef Sam <s@x.io>:\n> Hallo", "Ja."),
        ("Sim.\n\nEm seg., 1 de mar. de 2027 às 08:02, Sam <s@x.io> escreveu:\n> Olá", "Sim."),
        ("Sì.\n\nIl giorno lun 1 mar 2027 alle ore 08:02 Sam <s@x.io> ha scritto:\n> Ciao", "Sì."),
        ("Tak.\n\nW dniu 1.03.2027 o 08:02, Sam Seller pisze:\n> Cześć", "Tak."),
        ("Tak.\n\npon., 1 mar 2027 o 08:02 Sam <s@x.io> napisał(a):\n> Cześć", "Tak."),
        ("Ok.\n\n2027-03-01 8:02 GMT+01:00 Sam Seller <s@x.io>:\n> Hi", "Ok."),
        ("Sure.\n\n-----Original Message-----\nFrom: Sam\nSent: Monday\nTo: Ann\nHi", "Sure."),
        ("Gern.\n\n-----Ursprüngliche Nachricht-----\nVon: Sam\nHallo", "Gern."),
        ("Sure.\n\n*From:* Sam <s@x.io>\n*Sent:* Monday\n*To:* Ann\n*Subject:* Hi", "Sure."),
        ("Oké.\n\nVan: Sam <s@x.io>\nVerzonden: maandag 1 maart 2027 08:02\nAan: Ann\n", "Oké."),
        ("Ok.\n\nDe : Sam <s@x.io>\nEnvoyé : lundi 1 mars 2027 08:02\nÀ : Ann\nObjet : x", "Ok."),
        ("Ok.\n\nDe: Sam\nEnviada em: segunda-feira\nPara: Ann\nAssunto: x", "Ok."),
        ("Ok.\n\nDa: Sam\nInviato: lunedì 1 marzo 2027\nA: Ann\nOggetto: x", "Ok."),
        ("Ok.\n\nOd: Sam\nWysłano: poniedziałek\nDo: Ann\nTemat: x", "Ok."),
        ("Thanks, that works for me.\n\nBest regards,\nAnn Lee\nCFO | Acme\n+1 555 0100", None),
        ("Let's talk.\n\n-- \nAnn Lee\nAcme", "Let's talk."),
        ("Let's talk.\n\nSent from my iPhone", "Let's talk."),
        ("Passt.\n\nVon meinem iPhone gesendet", "Passt."),
        ("D'accord.\n\nEnvoyé de mon iPhone", "D'accord."),
        ("Vale.\n\nEnviado desde mi iPhone", "Vale."),
        ("Ok.\n\nVerzonden vanaf mijn iPhone", "Ok."),
        ("Ok.\n\nEnviado do meu iPhone", "Ok."),
        ("Ok.\n\nInviato da iPhone", "Ok."),
        ("Sounds good.\n\nGet Outlook for Android", "Sounds good."),
        ("Call me.\n\nCheers,\nAnn", "Call me."),
        ("Call me.\n\nMit freundlichen Grüßen\nAnn Lee\nLeiterin Einkauf", "Call me."),
        ("Call me.\n\nCordialement,\nAnn", "Call me."),
        ("Call me.\n\nSaludos cordiales,\nAnn", "Call me."),
        ("Call me.\n\nMet vriendelijke groet,\nAnn", "Call me."),
        ("Call me.\n\nAtenciosamente,\nAnn", "Call me."),
        ("Call me.\n\nCordiali saluti\nAnn", "Call me."),
        ("Call me.\n\nPozdrawiam\nAnn", "Call me."),
        ("Thanks!", "Thanks!"),
        (
            "Here is what Sam wrote:\nthe plan is fine.",
            "Here is what Sam wrote:\nthe plan is fine.",
        ),
    ],
)
def test_own_words(text: str, expected: str | None) -> None:
    if expected is None:  # a sign-off line that starts a sentence is not a signature
        assert own_words(text, "Ann Lee") == "Thanks, that works for me."
    else:
        assert own_words(text, "Ann Lee") == expected


def test_signature_found_by_the_senders_name() -> None:
    text = "Works for me.\n\nAnn Lee\nHead of Procurement\nAcme Inc."
    assert own_words(text, "Ann Lee") == "Works for me."


def test_html_blockquote_and_markers() -> None:
    html = (
        "<div>Yes, Tuesday.</div><div class='gmail_signature'>Ann</div>"
        "<div class='gmail_quote'>On Mon wrote:<blockquote>old</blockquote></div>"
    )
    text = html_to_text(html)
    assert own_words(text) == "Yes, Tuesday."
    assert "> old" in text


def test_html_skips_style_and_decodes_entities() -> None:
    text = html_to_text("<style>p{color:red}</style><p>Caf&eacute; &amp; t&#233;</p><br>x")
    assert [line for line in text.splitlines() if line] == ["Café & té", "x"]


def test_html_survives_broken_markup() -> None:
    assert "text" in html_to_text("<div><p>text<blockquote><b></div></i><![CDATA[ <")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I am out of the office until 10 March and will be back on 11 March.", (3, 11)),
        ("Out of the office until Friday, March 12, 2027.", (3, 12)),
        ("Back on Thursday.", (3, 4)),
        ("Back on Monday.", (3, 1)),  # on or after the day received
        ("Back tomorrow.", (3, 2)),
        ("I'm away until 3/10 (EST).", (3, 10)),
        ("I'm away until 12/31.", (12, 31)),
        ("I'm away until 03/10/2027.", (3, 10)),  # unclear English: the nearer reading
        ("Returning 2027-03-09.", (3, 9)),
        ("Out from March 8 through March 12, returning Monday, March 15.", (3, 15)),
        ("Out until 28 February.", (2, 28)),  # next year: on or after received date
        ("Ich bin bis 12.03. nicht im Büro. Ab dem 15.03. bin ich wieder erreichbar.", (3, 15)),
        ("Ich bin ab 2.3. nicht im Büro und bis 9.3. abwesend.", (3, 9)),
        ("Ich bin bis Freitag, den 5. März im Urlaub.", (3, 5)),
        ("Je suis absente jusqu'au 10 mars inclus.", (3, 10)),
        ("De retour le 1er avril.", (4, 1)),
        ("Estoy fuera hasta el 8 de marzo.", (3, 8)),
        ("Vuelvo el lunes.", (3, 1)),
        ("Ik ben afwezig t/m 5 maart, vanaf maandag 8 maart weer bereikbaar.", (3, 8)),
        ("Estou de férias até 10/03/2027.", (3, 10)),
        ("Volto no dia 10 de março.", (3, 10)),
        ("Sono in ferie fino al 12 marzo.", (3, 12)),
        ("Jestem na urlopie do 10 marca. Wracam w poniedziałek.", (3, 15)),
        ("Jestem na urlopie do 10.03.2027.", (3, 10)),
        ("I am currently out of the office with limited access to email.", None),
        ("Call me on +49 30 1234567.", None),
    ],
)
def test_return_date(text: str, expected: tuple[int, int] | None) -> None:
    found = find_return_date(text, today=MONDAY)
    if expected is None:
        assert found is None
    else:
        month, day = expected
        year = 2028 if (month, day) == (2, 28) else 2027
        assert found == datetime.date(year, month, day)


@pytest.mark.parametrize(
    ("subject", "text", "stops"),
    [
        ("Re: x", "Please remove me from your list.", True),
        ("Re: x", "Take me off your mailing list", True),
        ("Re: x", "Unsubscribe me please", True),
        ("Re: x", "Please stop emailing me.", True),
        ("Re: x", "Do not contact me again.", True),
        ("Re: x", "Opt me out.", True),
        ("Re: x", "unsubscribe", True),
        ("unsubscribe", "", True),
        ("Re: x", "Bitte aus dem Verteiler entfernen.", True),
        ("Re: x", "Bitte keine weiteren E-Mails.", True),
        ("Re: x", "Merci de me désinscrire.", True),
        ("Re: x", "No me envíen más correos.", True),
        ("Re: x", "Verwijder mij uit uw bestand.", True),
        ("Re: x", "Não me enviem mais e-mails.", True),
        ("Re: x", "Non contattatemi più.", True),
        ("Re: x", "Wypiszcie mnie z listy.", True),
        ("Re: x", "Not interested.", False),
        ("Re: x", "Not now, maybe next quarter.", False),
        ("Re: x", "Could you remove the second slide and resend?", False),
        ("Re: x", "To unsubscribe click here: https://x.io/u", False),
        ("Re: x", "Please stop by our booth at the fair.", False),
    ],
)
def test_unsubscribe_request(subject: str, text: str, stops: bool) -> None:
    assert (unsubscribe_reason(subject, text) is not None) is stops

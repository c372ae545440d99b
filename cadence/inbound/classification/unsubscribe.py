"""Explicit requests to stop: "remove me", "unsubscribe", "bitte austragen", "darme de baja".

Only the person's own words are read (never the quoted history, which holds our own footer's
"unsubscribe" link), and only explicit asks count: "not interested" alone is a reply.
"""

from __future__ import annotations

import re

_REQUEST = re.compile(
    # English
    r"\bunsubscribe (?:me|us|this)\b|\bremove (?:me|us|my (?:e-?mail|address|name|details|data)|"
    r"this (?:e-?mail|address))\b|\btake (?:me|us|my (?:e-?mail|address|name)) off\b|"
    r"\b(?:remove|delete|take) (?:me|us|my (?:e-?mail|address|name|details|data)) from\b|"
    r"\bopt(?:ing)? (?:me |us )?out\b|\bstop (?:e-?mailing|emailing|contacting|sending|"
    r"writing|spamming|messaging|reaching out)\b|"
    r"\b(?:do not|don't|dont|never) (?:e-?mail|contact|send|write to|message|reach out to) "
    r"(?:me|us)\b|\bno (?:more|further) (?:e-?mails|emails|messages|contact)\b|"
    r"\b(?:don't|do not) (?:want|wish) to (?:receive|hear from you|get (?:any more|these|your))|"
    r"\bleave me alone\b|"
    r"\bdelete my (?:e-?mail|address|data|details|contact)|"
    # German
    r"\babmelden\b|\babmeldung\b|\baustragen\b|\btragen sie mich\b|\bentfernen sie mich\b|"
    r"\b(?:mich|uns|meine (?:e-?mail-?adresse|adresse|daten)) (?:bitte )?(?:aus|von) .{0,40}"
    r"(?:entfernen|löschen|streichen|austragen)|\bkeine (?:weiteren )?(?:e-?mails|mails|"
    r"nachrichten|werbung)\b|\bnicht mehr (?:kontaktieren|anschreiben|schreiben|anrufen|"
    r"kontaktiert)|\blöschen sie meine\b|\bbitte (?:entfernen|löschen|streichen)\b|"
    r"\b(?:aus|von) (?:dem|ihrem|eurem|deinem|diesem|ihren) \w*verteiler\b|"
    # French
    r"désabonne|désinscri|desinscri|\bretirez[- ](?:moi|mon)|\bsupprimez[- ](?:moi|mon|mes)|"
    r"\bne (?:plus )?me (?:plus )?(?:contactez|contacter|écrivez|envoyez|écrire|solliciter)|"
    r"\bne plus (?:recevoir|me contacter)|\barrêtez de m'|\bme retirer de\b|"
    # Spanish
    r"\bdar(?:me)? de baja\b|\bdenme de baja\b|"
    r"\belimin(?:en|ad|a|ar)(?:me)?\b.{0,20}\b(?:lista|base de datos)|\beliminarme\b|"
    r"\bno me (?:contacten|escriban|envíen|envien|manden|vuelvan)|\bdejen de (?:enviar|escrib)|"
    r"\bno (?:deseo|quiero) recibir\b|\bquitarme de\b|\bsácame de\b|"
    # Dutch
    r"\bafmelden\b|\buitschrijven\b|\bverwijder (?:mij|me|mijn)\b|\bhaal (?:mij|me) (?:van|uit)\b|"
    r"\bgeen (?:e-?mails|mails|berichten) meer\b|\bniet meer (?:mailen|contacteren|benaderen|"
    r"e-?mailen)|"
    # Portuguese
    r"\bdescadastr|\bcancelar (?:a )?(?:inscrição|subscrição)|\bremova[- ]me\b|\bme remova\b|"
    r"\bremover[- ]me\b|\bremovam[- ]me\b|\bnão me (?:envie|enviem|contate|contatem|contacte|"
    r"contactem|mandem)|\bparem de (?:me )?(?:enviar|mandar|contatar)|\btirem[- ]me\b|"
    # Italian
    r"\bcancellami\b|\bcancellarmi\b|\bcancellatemi\b|\bdisiscrivermi\b|\bdisiscrizione\b|"
    r"\brimuovermi\b|\brimuovetemi\b|\brimuovimi\b|\bnon (?:contattatemi|contattarmi|scrivetemi|"
    r"inviatemi|mandatemi)|\bsmettete(?:la)? di\b|"
    # Polish
    r"\bwypisz(?:cie)? mnie\b|\bwypisać\b|\bwypisanie\b|\busuń(?:cie)? (?:mnie|mój|moje)\b|"
    r"\bproszę o usunięcie\b|\bnie (?:kontaktujcie|piszcie|wysyłajcie|przysyłajcie)\b|"
    r"\brezygnuję z (?:subskrypcji|otrzymywania)",
    re.I,
)
# A bare keyword is an ask only when it is (nearly) the whole message.
_BARE = re.compile(
    r"^\W*(?:unsubscribe|remove|stop|please stop|opt[- ]?out|remove me|abmelden|austragen|"
    r"désabonner|baja|afmelden|uitschrijven|descadastrar|cancellami|wypisz)\W*$",
    re.I,
)
_LINK_CONTEXT = re.compile(r"https?://|click|link|\bhere\b|hier klicken|cliquez", re.I)


def unsubscribe_reason(subject: str, own_text: str) -> str | None:
    """Why the person's own words ask to be removed, or None."""
    text = own_text[:4_000].strip()
    # A pasted footer ("click here to unsubscribe") is not an ask; "unsubscribe me" is.
    kept = [
        line
        for line in text.split("\n")
        if not _LINK_CONTEXT.search(line) or "unsubscribe me" in line.lower()
    ]
    match = _REQUEST.search(" ".join(" ".join(kept).split()))
    if match:
        return f"asks to stop: {match.group(0).strip().lower()}"
    bare_subject = re.sub(r"^\s*(?:re|aw|sv|antw)\s*:", "", subject, flags=re.I)
    if _BARE.match(text) or (not text and _BARE.match(bare_subject)):
        return f"asks to stop: {(text or subject.strip()).lower()[:40]}"
    return None

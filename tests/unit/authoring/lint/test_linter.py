"""The template linter, rule by rule: each with passing and failing rendered samples."""

import time

import pytest

from cadence.authoring.lint.linter import (
    DEFAULT_RULES,
    Finding,
    LintRules,
    RenderedSample,
    TemplateUnderLint,
    lint_template,
)

VPS = ("cut onboarding time by 40%", "SOC 2 compliant")
FOOTER = "\n\nUnsubscribe: https://x.test/u/1\nAcme Inc., 123 Main Street, Springfield, IL 62701"
SUBJECT = "Initech and Acme"


def template(
    kind: str,
    body: str,
    *,
    subject: str = SUBJECT,
    first: bool = False,
    source_body: str | None = None,
    samples: tuple[RenderedSample, ...] | None = None,
    empty: tuple[tuple[str, int], ...] = (),
) -> TemplateUnderLint:
    """A template whose file has a 4-line front matter, so its body starts on line 5."""
    written = body if source_body is None else source_body
    source = f'---\nkind: {kind}\nsubject: "{subject}"\n---\n{written}'
    return TemplateUnderLint(
        file="templates/t.j2",
        kind=kind,
        source=source,
        body_start_line=5,
        is_first_touch=first,
        samples=(RenderedSample("cfo", subject, body),) if samples is None else samples,
        empty_variables=empty,
    )


def lint(t: TemplateUnderLint, rules: LintRules = DEFAULT_RULES) -> list[Finding]:
    return lint_template(t, rules, VPS)


def rules_of(findings: list[Finding]) -> list[str]:
    return [f.rule for f in findings]


def only(findings: list[Finding], rule: str) -> Finding:
    matching = [f for f in findings if f.rule == rule]
    assert len(matching) == 1, findings
    return matching[0]


# --- a good template passes ----------------------------------------------------------------

GOOD_CEO = "Hi Bob,\n\nWe cut onboarding time by 40% at Hooli.\n\nWorth a chat Tuesday?\n\nAnn"


@pytest.mark.parametrize(
    ("kind", "body", "first"),
    [
        ("ceo_email", GOOD_CEO, True),
        ("bump", "Following up on the below. Worth a chat?", False),
        ("check_in", "Bob, we shipped the SOC 2 compliant release. Worth a look?", True),
        ("drip", "Three ways teams cut onboarding time by 40%." + FOOTER, True),
        ("call_task", "Ask about onboarding. Are they hiring? Book a demo? " * 40, True),
        ("linkedin_task", "Connect with Bob. Mention onboarding.", False),
    ],
)
def test_good_templates_have_no_findings(kind: str, body: str, first: bool) -> None:
    assert lint(template(kind, body, first=first)) == []


# --- too-long --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "body", "expected"),
    [
        ("ceo_email", "x" * 400, []),
        ("ceo_email", "x" * 401, ["too-long"]),
        ("bump", "x" * 401, ["too-long"]),
        ("check_in", "x" * 401, ["too-long"]),
        ("drip", "x" * 1400 + FOOTER, []),
        ("drip", "x" * 1501 + FOOTER, ["too-long"]),
        ("call_task", "x" * 5000, []),
        ("linkedin_task", "x" * 5000, []),
        # the quoted thread below "On ... wrote:" is not part of the message
        ("bump", "Following up.\n\nOn Tue, 3 Mar 2026, Ann <a@x.test> wrote:\n" + "y" * 900, []),
        ("bump", "Following up.\n\nOn Tue, 3 Mar 2026, Ann <a@x.test>\nwrote:\n" + "y" * 900, []),
        ("bump", "Following up.\n\n-----Original Message-----\n" + "y" * 900, []),
        ("bump", "Following up.\n\n" + "> y\n" * 300, []),
        # a short signature is not counted; a long "signature" is
        ("ceo_email", "x" * 390 + "\n-- \nAnn Lee\nCEO, Acme\n+1 555 0100", []),
        ("ceo_email", "x" * 390 + "\n-- \n" + "line\n" * 7, ["too-long"]),
        # blank lines and trailing spaces left by Jinja blocks are not counted
        ("ceo_email", "x" * 200 + "\n   \n\n\n\n" + "x" * 190 + "      ", []),
        # characters, not bytes, and composed: "é" written as e + accent is one
        ("ceo_email", "é" * 400, []),
        ("ceo_email", "e\u0301" * 400, []),
    ],
)
def test_too_long(kind: str, body: str, expected: list[str]) -> None:
    found = [f for f in lint(template(kind, body)) if f.rule == "too-long"]
    assert rules_of(found) == expected


def test_too_long_says_by_how_much_and_points_at_the_body() -> None:
    finding = only(lint(template("ceo_email", "x" * 450)), "too-long")
    assert finding.severity == "error"
    assert finding.line == 5
    assert "450 characters" in finding.message
    assert "400" in finding.message
    assert "Cut at least 50" in finding.message


def test_length_threshold_comes_from_the_rules() -> None:
    rules = LintRules.from_mapping({"length": {"max_body_chars": {"linkedin_task": 300}}})
    assert rules_of(lint(template("linkedin_task", "x" * 301), rules)) == ["too-long"]
    assert lint(template("ceo_email", "x" * 900), rules) == []


# --- multiple-asks ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "body", "expected"),
    [
        ("ceo_email", "We cut onboarding by 40%. Worth a chat?", []),
        ("ceo_email", "Are you free Tuesday? Let me know.", ["multiple-asks"]),
        ("ceo_email", "Worth a chat? https://calendly.com/ann", []),
        (
            "ceo_email",
            "Worth a chat?\n\nAnn\nBook a time: https://calendly.com/ann",
            ["multiple-asks"],
        ),
        ("ceo_email", "Would it make sense to talk? Grab 15 minutes here.", ["multiple-asks"]),
        ("ceo_email", "What if onboarding took a week? Worth a chat?", []),
        ("bump", "Following up on the below. Worth a chat?", []),
        ("bump", "Following up. Free Tuesday? Or Wednesday?", ["multiple-asks"]),
        ("bump", "Following up.\n\nOn Mon, Ann wrote:\n> Free Tuesday?\n> Let me know.", []),
        ("check_in", "Congrats on the launch. Free Tuesday? Let me know.", ["multiple-asks"]),
        ("call_task", "Free Tuesday? Let me know. Book a demo.", []),
    ],
)
def test_multiple_asks(kind: str, body: str, expected: list[str]) -> None:
    found = [f for f in lint(template(kind, body)) if f.rule == "multiple-asks"]
    assert rules_of(found) == expected


def test_multiple_asks_lists_them_and_points_at_the_second() -> None:
    body = "Hi Bob,\n\nAre you free Tuesday?\n\nLet me know what works.\n\nAnn"
    finding = only(lint(template("ceo_email", body)), "multiple-asks")
    assert finding.severity == "error"
    assert finding.line == 9
    assert "2 asks" in finding.message
    assert "“Are you free Tuesday?”" in finding.message
    assert "keep at most 1" in finding.message


# --- ask-in-drip -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "count"),
    [
        ("Onboarding drags because of handoffs. Here is how Hooli fixed it.", 0),
        ("Why do most onboarding projects slip past the first quarter? Handoffs.", 0),
        ("Onboarding drags. Worth a chat?", 1),
        ("Onboarding drags. Book a demo: https://cal.com/acme", 1),
        ("Onboarding drags.\n\nWorth a chat?\n\nLet me know.", 2),
        # footer lines are not asks, even when they say "reply"
        ("Onboarding drags.\n\nReply with STOP to unsubscribe.", 0),
    ],
)
def test_ask_in_drip(body: str, count: int) -> None:
    found = [f for f in lint(template("drip", body + FOOTER)) if f.rule == "ask-in-drip"]
    assert len(found) == count
    assert all(f.severity == "error" for f in found)


def test_ask_in_drip_points_at_the_sentence() -> None:
    source = "Onboarding drags.\n\nWorth a chat, {{ first_name }}?\n" + FOOTER
    rendered = "Onboarding drags.\n\nWorth a chat, Bob?\n" + FOOTER
    finding = only(lint(template("drip", rendered, source_body=source)), "ask-in-drip")
    assert finding.line == 7
    assert "Worth a chat, Bob?" in finding.message


def test_asks_in_drip_are_capped() -> None:
    body = "Worth a chat?\n" * 500 + FOOTER
    assert len(lint(template("drip", body))) <= 10


# --- boilerplate -----------------------------------------------------------------------------

REQUIRED_PHRASES = [
    "I hope this email finds you well",
    "I hope you are doing well",
    "I know you are extremely busy",
    "I know you're busy",
    "it would be greatly appreciated",
    "sorry to bother you",
    "Kind regards",
    "Best regards",
    "Please do not hesitate to contact me",
    "I wanted to reach out",
    "Just checking in",
    "touch base",
    "per my last email",
    "at your earliest convenience",
    "I am writing to",
    "To whom it may concern",
    "Dear Sir/Madam",
]


@pytest.mark.parametrize("phrase", REQUIRED_PHRASES)
def test_boilerplate_phrases_are_flagged(phrase: str) -> None:
    body = f"We cut onboarding by 40%.\n{phrase} about it.\nAnn"
    finding = only(lint(template("call_task", body)), "boilerplate")
    assert finding.severity == "warning"
    assert finding.line == 6
    assert phrase in finding.message


@pytest.mark.parametrize(
    "variant",
    [
        "i HOPE this EMAIL finds you WELL",
        "I hope this\nemail finds   you well",
        "I know you’re busy",
        "I know you‘re busy",
        "KIND  REGARDS",
        "Dear sir/madam",
    ],
)
def test_boilerplate_ignores_case_whitespace_and_apostrophes(variant: str) -> None:
    assert rules_of(lint(template("call_task", f"Hello. {variant}, Bob."))) == ["boilerplate"]


@pytest.mark.parametrize(
    "body",
    [
        "I hope the launch went well.",
        "I know Initech is growing fast.",
        "Best, Ann",
        "We touched base-camp.",
        "Regards from Berlin.",
        "Your kindness regards nobody.",
    ],
)
def test_plain_writing_is_not_boilerplate(body: str) -> None:
    assert lint(template("call_task", body)) == []


def test_boilerplate_offers_the_plainer_alternative() -> None:
    finding = only(lint(template("call_task", "Ok.\nKind regards,\nAnn")), "boilerplate")
    assert "Sign off with just your name" in finding.message


def test_boilerplate_in_the_subject_points_at_the_subject_line() -> None:
    finding = only(lint(template("ceo_email", GOOD_CEO, subject="Touch base?")), "boilerplate")
    assert finding.line == 3


def test_each_boilerplate_entry_is_reported_once_per_line() -> None:
    body = "Dear Sir/Madam, hi.\nDear Sir, again."
    findings = lint(template("call_task", body))
    assert rules_of(findings) == ["boilerplate"]


# --- no-value-proposition ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "body", "subject", "first", "expected"),
    [
        ("ceo_email", GOOD_CEO, SUBJECT, True, []),
        ("ceo_email", "Hooli cut onboarding by 40 percent. Worth a chat?", SUBJECT, True, []),
        ("ceo_email", "We are SOC 2 compliant now. Worth a chat?", SUBJECT, True, []),
        ("ceo_email", "Hi Bob, worth a chat?", "40% faster onboarding", True, []),
        ("ceo_email", "Hi Bob, worth a chat?", SUBJECT, True, ["no-value-proposition"]),
        (
            "ceo_email",
            "We are growing 4% a year. Worth a chat?",
            SUBJECT,
            True,
            ["no-value-proposition"],
        ),
        ("ceo_email", "Hi Bob, worth a chat?", SUBJECT, False, []),
        ("drip", "Teams are slow to hire." + FOOTER, SUBJECT, True, ["no-value-proposition"]),
        ("call_task", "Call Bob.", SUBJECT, True, []),
    ],
)
def test_value_proposition(
    kind: str, body: str, subject: str, first: bool, expected: list[str]
) -> None:
    findings = lint(template(kind, body, subject=subject, first=first))
    assert [f.rule for f in findings if f.rule == "no-value-proposition"] == expected


def test_value_proposition_check_can_be_switched_off_and_needs_propositions() -> None:
    t = template("ceo_email", "Hi Bob, worth a chat?", first=True)
    off = LintRules.from_mapping({"value_proposition": {"required": False}})
    assert lint_template(t, off, VPS) == []
    assert lint_template(t, DEFAULT_RULES, []) == []
    assert lint_template(t, DEFAULT_RULES, ["", "  "]) == []
    finding = only(lint_template(t, DEFAULT_RULES, VPS), "no-value-proposition")
    assert finding.severity == "warning"
    assert "cut onboarding time by 40%" in finding.message


# --- drip-missing-footer -------------------------------------------------------------------

ADDRESSES = [
    "Acme Inc., 123 Main Street, Springfield, IL 62701",
    "Acme Inc, 500 W. Madison St, Chicago",
    "Acme GmbH, Hauptstraße 5, 10115 Berlin",
    "Acme Ltd, 1 Long Lane, London EC1A 1BB",
    "Acme SAS, 12 rue de la Paix, 75002 Paris",
    "Acme Srl, Via Roma 12, Roma",
    "Acme, PO Box 123, Austin",
]


@pytest.mark.parametrize("address", ADDRESSES)
def test_drip_footer_with_both_passes(address: str) -> None:
    body = f"Onboarding drags.\n\nUnsubscribe: https://x.test/u\n{address}"
    assert lint(template("drip", body)) == []


@pytest.mark.parametrize(
    ("footer", "missing", "present"),
    [
        ("Unsubscribe: https://x.test/u", "postal address", "unsubscribe"),
        ("Acme Inc., 123 Main Street, Springfield, IL 62701", "unsubscribe line", "postal"),
        ("It takes 15 minutes to find a way through Q3 4th-quarter plans.", "unsubscribe", None),
        ("", "unsubscribe line and no postal address", None),
    ],
)
def test_drip_footer_says_what_is_missing(footer: str, missing: str, present: str | None) -> None:
    finding = only(lint(template("drip", f"Onboarding drags.\n\n{footer}")), "drip-missing-footer")
    assert finding.severity == "error"
    assert finding.line == 5
    assert missing in finding.message
    if present:
        assert f"no {present}" not in finding.message


def test_footer_is_only_required_of_drip() -> None:
    assert lint(template("ceo_email", GOOD_CEO)) == []


# --- empty-variable --------------------------------------------------------------------------


def test_empty_variables_become_warnings_once_each() -> None:
    t = template("ceo_email", GOOD_CEO, empty=(("title", 7), ("title", 7), ("company", 5)))
    findings = lint(t)
    assert [(f.rule, f.line, f.severity) for f in findings] == [
        ("empty-variable", 5, "warning"),
        ("empty-variable", 7, "warning"),
    ]
    assert "{{ title }}" in findings[1].message
    assert "default" in findings[1].message


def test_empty_variables_are_reported_with_no_samples_at_all() -> None:
    t = template("ceo_email", "", samples=(), empty=(("x", 0),))
    assert [(f.rule, f.line) for f in lint_template(t, DEFAULT_RULES, VPS)] == [
        ("empty-variable", 1)
    ]


# --- subject checks ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "subject", "expected"),
    [
        ("ceo_email", "Initech and Acme", []),
        ("ceo_email", "", ["empty-subject"]),
        ("ceo_email", "   ", ["empty-subject"]),
        ("drip", "", ["empty-subject"]),
        ("check_in", "", ["empty-subject"]),
        ("bump", "", []),
        ("call_task", "", []),
        ("ceo_email", "x" * 60, []),
        ("ceo_email", "x" * 61, ["subject-too-long"]),
        ("ceo_email", "BIG NEWS FOR INITECH", ["shouty-subject"]),
        ("ceo_email", "Big NEWS for INITECH", ["shouty-subject"]),
        ("ceo_email", "Quick idea!!", ["shouty-subject"]),
        ("ceo_email", "Quick idea?!", ["shouty-subject"]),
        ("ceo_email", "ROI at IBM and Acme", []),
        ("ceo_email", "Quick idea!", []),
        ("ceo_email", "Re: our chat", ["fake-reply-subject"]),
        ("ceo_email", "FWD: numbers", ["fake-reply-subject"]),
        ("bump", "Re: our chat", []),
        ("ceo_email", "Regarding onboarding", []),
    ],
)
def test_subject(kind: str, subject: str, expected: list[str]) -> None:
    body = GOOD_CEO if kind != "drip" else "Onboarding." + FOOTER
    findings = lint(template(kind, body, subject=subject))
    assert rules_of(findings) == expected
    assert all(f.line == 3 for f in findings)


def test_empty_subject_is_an_error_and_the_others_warnings() -> None:
    assert only(lint(template("ceo_email", GOOD_CEO, subject="")), "empty-subject").severity == (
        "error"
    )
    long = only(lint(template("ceo_email", GOOD_CEO, subject="y" * 70)), "subject-too-long")
    assert long.severity == "warning"
    assert "70 characters" in long.message


# --- merging samples -------------------------------------------------------------------------


def test_findings_of_all_samples_are_merged_naming_personas_when_not_all() -> None:
    long_body = "x" * 420
    samples = (
        RenderedSample("cfo", SUBJECT, GOOD_CEO),
        RenderedSample("cto", SUBJECT, long_body),
        RenderedSample("coo", SUBJECT, "x" * 450),
        RenderedSample("cfo", SUBJECT, GOOD_CEO + "\nKind regards"),
    )
    findings = lint(template("ceo_email", GOOD_CEO, samples=samples))
    too_long = only(findings, "too-long")
    assert "450 characters" in too_long.message  # the worst sample is shown
    assert too_long.message.endswith("(only for personas cto, coo)")
    assert too_long.personas == ("cto", "coo")
    assert only(findings, "boilerplate").message.endswith("(only for persona cfo)")


def test_a_finding_in_every_sample_names_no_persona() -> None:
    samples = tuple(RenderedSample(p, SUBJECT, "Kind regards, Ann") for p in ("cfo", "cto", None))
    finding = only(lint(template("call_task", "", samples=samples)), "boilerplate")
    assert "only for" not in finding.message
    assert finding.personas == ()


def test_sample_without_persona_is_named() -> None:
    samples = (RenderedSample(None, SUBJECT, "x" * 500), RenderedSample("cfo", SUBJECT, "ok"))
    finding = only(lint(template("ceo_email", "", samples=samples)), "too-long")
    assert finding.message.endswith("(only for the sample without a persona)")
    assert finding.personas == (None,)


def test_findings_are_sorted_by_line_with_errors_first() -> None:
    body = "Kind regards.\n" + "Free? Let me know. " * 30
    findings = lint(template("ceo_email", body, subject="Re: x" + "y" * 70))
    keys = [(f.line, f.severity != "error") for f in findings]
    assert keys == sorted(keys)
    assert {"boilerplate", "too-long", "multiple-asks", "subject-too-long"} <= set(
        rules_of(findings)
    )


# --- severities ------------------------------------------------------------------------------


def test_severity_can_be_raised_lowered_or_switched_off() -> None:
    t = template("ceo_email", "x" * 450 + " Kind regards")
    rules = LintRules.from_mapping({"severity": {"too-long": "warning", "boilerplate": "off"}})
    assert [(f.rule, f.severity) for f in lint(t, rules)] == [("too-long", "warning")]
    rules = LintRules.from_mapping({"severity": {"boilerplate": "error"}})
    assert only(lint(t, rules), "boilerplate").severity == "error"


# --- hostile input: never crash, never hang ------------------------------------------------


HOSTILE_BODIES = [
    "",
    " \n\t\r\n ",
    "\x00\x01\x02",
    "?" * 10_000,
    "a" * 1_000_000,
    "Free? " * 50_000,
    "1 " * 100_000,
    "On " * 10_000 + "wrote:",
    "-- \n" * 10_000,
    "> " * 10_000,
    "\u202eevil\u202c \u200b\u200d 👩‍👩‍👧 Z̴̛̤a̷l̵g̶o̸ \ufeff \ud7ff",
    "İstanbul ǅ ß ﬁ ＷＯＲＴＨ？",
    "{{ first_name }} {% if x %}" * 1000,
    "\r\r\r\n\n\r",
    "Hauptstraße" * 50_000,
]


@pytest.mark.parametrize("kind", ["ceo_email", "bump", "drip", "check_in", "call_task"])
@pytest.mark.parametrize("body", HOSTILE_BODIES, ids=range(len(HOSTILE_BODIES)))
def test_hostile_bodies_do_not_crash_or_hang(kind: str, body: str) -> None:
    start = time.monotonic()
    t = template(kind, body, subject=body[:200], first=True)
    findings = lint(t)
    assert all(f.line >= 1 and f.rule and f.message for f in findings)
    assert time.monotonic() - start < 10


@pytest.mark.parametrize(
    ("source", "body_start_line"),
    [("", 1), ("", 0), ("", -3), ("---\n---\n", 99), ("{{" * 50_000, 1), ("\n" * 100_000, 2)],
)
def test_hostile_sources_and_line_numbers(source: str, body_start_line: int) -> None:
    t = TemplateUnderLint(
        file="",
        kind="ceo_email",
        source=source,
        body_start_line=body_start_line,
        is_first_touch=True,
        samples=(RenderedSample(None, "", "Free? Let me know. I hope you are doing well."),),
        empty_variables=(("", -1),),
    )
    start = time.monotonic()
    findings = lint(t)
    assert all(f.line >= 1 for f in findings)
    assert {"empty-subject", "multiple-asks", "boilerplate", "empty-variable"} <= set(
        rules_of(findings)
    )
    assert time.monotonic() - start < 10


def test_unknown_kind_is_only_checked_for_what_applies_to_every_kind() -> None:
    assert rules_of(lint(template("newsletter", "Kind regards " + "x" * 900))) == ["boilerplate"]


def test_empty_rendered_body_is_an_error() -> None:
    finding = only(lint(template("ceo_email", "\n\n  \n")), "empty-body")
    assert finding.severity == "error"
    assert finding.line == 5


def test_empty_body_still_gets_its_subject_checked() -> None:
    findings = lint(template("ceo_email", "", subject=""))
    assert rules_of(findings) == ["empty-subject", "empty-body"]

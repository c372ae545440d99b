"""The template linter: checks rendered samples of a template against the selling rules.

Pure: the caller parses the file, renders one sample per persona (and branch), finds variables
that can render empty, and hands everything over; this module only reads text. A finding found
in several samples is reported once, naming the personas when not every sample has it.
"""

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace

from cadence.authoring.lint.asks import find_asks
from cadence.authoring.lint.rules import (
    DEFAULT_RULES,
    BoilerplatePhrase,
    LintRules,
    Severity,
    compiled,
)
from cadence.authoring.lint.subject import subject_problems
from cadence.authoring.lint.text import (
    MessageParts,
    SourceMap,
    front_matter_line,
    normalize,
    phrase_pattern,
    split_message,
)
from cadence.authoring.lint.value_props import cites

__all__ = [
    "DEFAULT_RULES",
    "BoilerplatePhrase",
    "Finding",
    "LintRules",
    "RenderedSample",
    "Severity",
    "TemplateUnderLint",
    "lint_template",
]

# Past this many, more asks in one drip sample add noise, not information.
_MAX_ASK_FINDINGS = 10


@dataclass(frozen=True)
class Finding:
    """One thing for marketing to change; ``rule`` ids are stable for scripts and config."""

    rule: str
    severity: Severity
    file: str
    line: int  # 1-based line of the template file, front matter included
    message: str
    personas: tuple[str | None, ...] = ()  # the samples' personas it was found in; () = all


@dataclass(frozen=True)
class RenderedSample:
    """A render for one persona (None: no persona) and branch; the linter never renders."""

    persona: str | None
    subject: str
    body: str


@dataclass(frozen=True)
class TemplateUnderLint:
    """A template file with its samples; ``source`` and ``body_start_line`` give line numbers.

    ``empty_variables`` are (name, source line) of variables without a fallback that can be
    empty or missing for some prospects: the caller finds them, the linter reports them.
    """

    file: str
    kind: str
    source: str
    body_start_line: int
    is_first_touch: bool
    samples: tuple[RenderedSample, ...]
    empty_variables: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class _Hit:
    rule: str
    line: int
    message: str
    key: str = ""  # hits with the same rule, line and key are one finding across samples
    weight: int = 0  # of merged hits, the heaviest one's message is kept (the longest body...)


def lint_template(
    t: TemplateUnderLint, rules: LintRules, value_propositions: Sequence[str]
) -> list[Finding]:
    """Findings sorted by line, errors first; rules whose severity is "off" are skipped."""
    source = SourceMap(t.source, t.body_start_line)
    vps = [vp for vp in value_propositions if vp.strip()]
    labels = [s.persona for s in t.samples]
    groups: dict[tuple[str, int, str], list[tuple[str | None, _Hit]]] = {}
    for label, sample in zip(labels, t.samples, strict=True):
        for hit in _lint_sample(t, sample, rules, vps, source):
            groups.setdefault((hit.rule, hit.line, hit.key), []).append((label, hit))
    merged = [_merge(t, rules, hits, labels) for hits in groups.values()]
    for name, line in dict.fromkeys(t.empty_variables):
        merged.append(_finding(t, rules, _empty_variable(name, line)))
    findings = [f for f in merged if f is not None]
    return sorted(findings, key=lambda f: (f.line, f.severity != "error", f.rule, f.message))


def _merge(
    t: TemplateUnderLint,
    rules: LintRules,
    hits: list[tuple[str | None, _Hit]],
    labels: list[str | None],
) -> Finding | None:
    best = max((hit for _, hit in hits), key=lambda h: h.weight)
    finding = _finding(t, rules, best)
    personas = tuple(dict.fromkeys(label for label, _ in hits))
    if finding is None or set(personas) == set(labels):
        return finding
    names = [p for p in personas if p is not None]
    which = [f"persona{'s' if len(names) > 1 else ''} {', '.join(names)}"] if names else []
    if None in personas:
        which.append("the sample without a persona")
    message = f"{best.message} (only for {' and '.join(which)})"
    return replace(finding, message=message, personas=personas)


def _finding(t: TemplateUnderLint, rules: LintRules, hit: _Hit) -> Finding | None:
    level = rules.level(hit.rule)
    if level == "off":
        return None
    return Finding(hit.rule, level, t.file, max(hit.line, 1), hit.message)


def _lint_sample(
    t: TemplateUnderLint,
    sample: RenderedSample,
    rules: LintRules,
    vps: Sequence[str],
    source: SourceMap,
) -> list[_Hit]:
    hits: list[_Hit] = []
    if t.kind in rules.subject_kinds:
        line = front_matter_line(t.source, t.body_start_line, "subject")
        hits += [
            _Hit(rule, line, message, weight=weight)
            for rule, message, weight in subject_problems(t.kind, sample.subject, rules)
        ]
    parts = split_message(sample.body, rules.max_signature_lines)
    if not parts.whole:
        message = "The body renders to nothing; check its {% if %} branches and variables."
        return [*hits, _Hit("empty-body", source.first_body_line, message)]
    hits += _length(t, parts, rules, source)
    hits += _asks(t, parts, rules, source)
    hits += _boilerplate(t, sample, parts, rules, source)
    hits += _value_proposition(t, sample, parts, rules, vps, source)
    hits += _footer(t, parts, rules, source)
    return hits


def _length(
    t: TemplateUnderLint, parts: MessageParts, rules: LintRules, s: SourceMap
) -> list[_Hit]:
    limit = rules.max_body_chars.get(t.kind)
    size = len(unicodedata.normalize("NFC", parts.message))
    if limit is None or size <= limit:
        return []
    message = (
        f"The {t.kind} body is {size} characters as sent (without quoted thread or signature); "
        f"the limit is {limit}. Cut at least {size - limit}."
    )
    return [_Hit("too-long", s.first_body_line, message, weight=size)]


def _asks(t: TemplateUnderLint, parts: MessageParts, rules: LintRules, s: SourceMap) -> list[_Hit]:
    limit = rules.max_asks.get(t.kind)
    forbidden = t.kind in rules.no_ask_kinds
    if limit is None and not forbidden:
        return []
    # Footer lines ("reply STOP to unsubscribe", the address) are not asks.
    footer = [compiled(p) for p in rules.unsubscribe_patterns + rules.postal_address_patterns]
    text = "\n".join(
        line for line in parts.whole.split("\n") if not any(p.search(line) for p in footer)
    )
    asks = find_asks(
        text,
        openers=rules.ask_openers,
        patterns=rules.ask_patterns,
        rhetorical=rules.rhetorical_patterns,
        short_question_words=rules.short_question_words,
    )
    if forbidden:
        return [
            _Hit(
                "ask-in-drip",
                line := s.locate(ask.sentence, ask.key),
                f"A {t.kind} carries no ask; remove or rephrase “{_quote(ask.sentence)}”.",
                key=str(line),
            )
            for ask in asks[:_MAX_ASK_FINDINGS]
        ]
    if limit is None or len(asks) <= limit:
        return []
    extra = asks[limit]
    listed = "; ".join(f"“{_quote(a.sentence)}”" for a in asks[:_MAX_ASK_FINDINGS])
    message = f"This {t.kind} makes {len(asks)} asks ({listed}); keep at most {limit}."
    return [_Hit("multiple-asks", s.locate(extra.sentence, extra.key), message, weight=len(asks))]


def _boilerplate(
    t: TemplateUnderLint,
    sample: RenderedSample,
    parts: MessageParts,
    rules: LintRules,
    s: SourceMap,
) -> list[_Hit]:
    body, subject = normalize(parts.whole), normalize(sample.subject)
    hits: list[_Hit] = []
    for index, entry in enumerate(rules.boilerplate):
        for phrase in entry.phrases:
            message = f"“{phrase}” is boilerplate. {entry.instead}".strip()
            if phrase_pattern(phrase).search(body):
                hits.append(_Hit("boilerplate", s.locate(phrase, phrase), message, key=str(index)))
                break
            if phrase_pattern(phrase).search(subject):
                line = front_matter_line(t.source, t.body_start_line, "subject")
                hits.append(_Hit("boilerplate", line, message, key=str(index)))
                break
    return hits


def _value_proposition(
    t: TemplateUnderLint,
    sample: RenderedSample,
    parts: MessageParts,
    rules: LintRules,
    vps: Sequence[str],
    s: SourceMap,
) -> list[_Hit]:
    wanted = rules.require_value_proposition and t.is_first_touch
    if not (wanted and vps and t.kind in rules.value_proposition_kinds):
        return []
    if cites(f"{sample.subject}\n{parts.whole}", vps):
        return []
    message = (
        f"This first touch cites none of the value propositions (for example “{_quote(vps[0])}”);"
        " name one, with its number."
    )
    return [_Hit("no-value-proposition", s.first_body_line, message)]


def _footer(
    t: TemplateUnderLint, parts: MessageParts, rules: LintRules, s: SourceMap
) -> list[_Hit]:
    if t.kind not in rules.footer_kinds:
        return []
    missing = [
        what
        for what, patterns in (
            ("unsubscribe line", rules.unsubscribe_patterns),
            ("postal address", rules.postal_address_patterns),
        )
        if not any(compiled(p).search(parts.whole) for p in patterns)
    ]
    if not missing:
        return []
    them = "them" if len(missing) > 1 else "it"
    message = (
        f"This {t.kind} has no {' and no '.join(missing)}; add {them} to its footer "
        "(anti-spam law requires both)."
    )
    return [_Hit("drip-missing-footer", s.first_body_line, message)]


def _empty_variable(name: str, line: int) -> _Hit:
    message = (
        f"“{{{{ {name} }}}}” can be empty or missing for some prospects (think “Hi ,”); "
        f'give it a fallback with | default("…") or wrap it in {{% if {name} %}}.'
    )
    return _Hit("empty-variable", line, message)


def _quote(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"

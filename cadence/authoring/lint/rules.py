"""The linter's rules and thresholds, built from config/lint.toml once the caller has parsed it.

Every key is optional: what the file leaves out keeps the shipped default (lint.defaults), so
marketing can change one threshold without copying the rest.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from types import MappingProxyType
from typing import Any, Literal, TypeVar, cast

import cadence.authoring.lint.defaults as d

Severity = Literal["error", "warning"]
Level = Literal["error", "warning", "off"]

KINDS = frozenset({"ceo_email", "bump", "drip", "check_in", "call_task", "linkedin_task"})
RULE_IDS = frozenset(d.SEVERITIES)
_LEVELS = ("error", "warning", "off")
# The keys lint.toml may hold, per table; "boilerplate" is an array of tables.
_KEYS: dict[str, set[str]] = {
    "length": {"max_body_chars", "max_signature_lines"},
    "asks": {
        "max_per_kind",
        "forbidden_in",
        "openers",
        "patterns",
        "rhetorical",
        "short_question_words",
    },
    "boilerplate": set(),
    "value_proposition": {"required", "kinds"},
    "footer": {"kinds", "unsubscribe", "postal_address"},
    "subject": {"kinds", "required_for", "max_chars"},
    "severity": set(RULE_IDS),
}


@dataclass(frozen=True)
class BoilerplatePhrase:
    """Variants of one stock phrase and the plainer thing to write instead."""

    phrases: tuple[str, ...]
    instead: str


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class LintRules:
    """Thresholds, phrase lists and severities; regexes are compiled case-insensitively."""

    max_body_chars: Mapping[str, int] = field(default_factory=lambda: _frozen(d.MAX_BODY_CHARS))
    max_signature_lines: int = d.MAX_SIGNATURE_LINES
    max_asks: Mapping[str, int] = field(default_factory=lambda: _frozen(d.MAX_ASKS))
    no_ask_kinds: frozenset[str] = frozenset(d.NO_ASK_KINDS)
    ask_openers: tuple[str, ...] = d.ASK_OPENERS
    ask_patterns: tuple[str, ...] = d.ASK_PATTERNS
    rhetorical_patterns: tuple[str, ...] = d.RHETORICAL_PATTERNS
    short_question_words: int = d.SHORT_QUESTION_WORDS
    boilerplate: tuple[BoilerplatePhrase, ...] = tuple(
        BoilerplatePhrase(phrases, instead) for phrases, instead in d.BOILERPLATE
    )
    require_value_proposition: bool = d.REQUIRE_VALUE_PROPOSITION
    value_proposition_kinds: frozenset[str] = frozenset(d.VALUE_PROPOSITION_KINDS)
    footer_kinds: frozenset[str] = frozenset(d.FOOTER_KINDS)
    unsubscribe_patterns: tuple[str, ...] = d.UNSUBSCRIBE_PATTERNS
    postal_address_patterns: tuple[str, ...] = d.POSTAL_ADDRESS_PATTERNS
    subject_kinds: frozenset[str] = frozenset(d.SUBJECT_KINDS)
    subject_required_kinds: frozenset[str] = frozenset(d.SUBJECT_REQUIRED_KINDS)
    subject_max_chars: int = d.SUBJECT_MAX_CHARS
    severities: Mapping[str, Level] = field(
        default_factory=lambda: _frozen(cast(dict[str, Level], d.SEVERITIES))
    )

    def __post_init__(self) -> None:
        for name in (
            "ask_patterns",
            "rhetorical_patterns",
            "unsubscribe_patterns",
            "postal_address_patterns",
        ):
            for index, pattern in enumerate(getattr(self, name)):
                _check_regex(f"{name}[{index}]", pattern)
        unknown = set(self.severities) - RULE_IDS
        if unknown:
            raise ValueError(f"severities: unknown rule {sorted(unknown)[0]!r}")

    def level(self, rule: str) -> Level:
        return self.severities.get(rule, cast(Level, d.SEVERITIES[rule]))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> "LintRules":
        """Build rules from parsed lint.toml; raises ValueError naming the offending key."""
        _only(data, "", set(_KEYS))
        length = _table(data, "length", _KEYS["length"])
        asks = _table(data, "asks", _KEYS["asks"])
        value = _table(data, "value_proposition", _KEYS["value_proposition"])
        footer = _table(data, "footer", _KEYS["footer"])
        subject = _table(data, "subject", _KEYS["subject"])
        severity = _table(data, "severity", _KEYS["severity"])
        default = cls()
        return cls(
            max_body_chars=_get(
                length, "length.max_body_chars", _kind_ints, default.max_body_chars
            ),
            max_signature_lines=_get(
                length, "length.max_signature_lines", _count, default.max_signature_lines
            ),
            max_asks=_get(asks, "asks.max_per_kind", _kind_ints, default.max_asks),
            no_ask_kinds=_get(asks, "asks.forbidden_in", _kinds, default.no_ask_kinds),
            ask_openers=_get(asks, "asks.openers", _strings, default.ask_openers),
            ask_patterns=_get(asks, "asks.patterns", _regexes, default.ask_patterns),
            rhetorical_patterns=_get(
                asks, "asks.rhetorical", _regexes, default.rhetorical_patterns
            ),
            short_question_words=_get(
                asks, "asks.short_question_words", _count, default.short_question_words
            ),
            boilerplate=_get(data, "boilerplate", _boilerplate, default.boilerplate),
            require_value_proposition=_get(
                value, "value_proposition.required", _bool, default.require_value_proposition
            ),
            value_proposition_kinds=_get(
                value, "value_proposition.kinds", _kinds, default.value_proposition_kinds
            ),
            footer_kinds=_get(footer, "footer.kinds", _kinds, default.footer_kinds),
            unsubscribe_patterns=_get(
                footer, "footer.unsubscribe", _regexes, default.unsubscribe_patterns
            ),
            postal_address_patterns=_get(
                footer, "footer.postal_address", _regexes, default.postal_address_patterns
            ),
            subject_kinds=_get(subject, "subject.kinds", _kinds, default.subject_kinds),
            subject_required_kinds=_get(
                subject, "subject.required_for", _kinds, default.subject_required_kinds
            ),
            subject_max_chars=_get(subject, "subject.max_chars", _count, default.subject_max_chars),
            severities=_frozen({**default.severities, **_levels(severity, "severity")}),
        )


@cache
def compiled(pattern: str) -> re.Pattern[str]:
    """Patterns are shared by every lint run, so compile each once."""
    return re.compile(pattern, re.IGNORECASE | re.MULTILINE)


def _check_regex(key: str, pattern: str) -> None:
    try:
        compiled(pattern)
    except re.error as exc:
        raise ValueError(f"{key}: not a valid regular expression ({exc}): {pattern!r}") from None


# --- validation of parsed TOML values ------------------------------------------------------

T = TypeVar("T")


def _only(data: Mapping[str, Any], where: str, allowed: set[str]) -> None:
    for key in data:
        if key not in allowed:
            place = f"{where}.{key}" if where else str(key)
            raise ValueError(f"{place}: unknown key; expected one of {', '.join(sorted(allowed))}")


def _table(data: Mapping[str, Any], key: str, allowed: set[str]) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise ValueError(f"{key}: must be a table")
    _only(value, key, allowed)
    return value


def _get(table: Mapping[str, Any], key: str, parse: Callable[[str, Any], T], default: T) -> T:
    name = key.rsplit(".", 1)[-1]
    return parse(key, table[name]) if name in table else default


def _count(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{key}: must be a whole number, 0 or more (got {value!r})")
    return value


def _bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{key}: must be true or false (got {value!r})")
    return value


def _strings(key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"{key}: must be a list of non-empty strings")
    return tuple(value)


def _regexes(key: str, value: Any) -> tuple[str, ...]:
    patterns = _strings(key, value)
    for index, pattern in enumerate(patterns):
        _check_regex(f"{key}[{index}]", pattern)
    return patterns


def _kinds(key: str, value: Any) -> frozenset[str]:
    kinds = _strings(key, value)
    for kind in kinds:
        _kind(key, kind)
    return frozenset(kinds)


def _kind(key: str, kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(
            f"{key}: unknown template kind {kind!r}; one of {', '.join(sorted(KINDS))}"
        )


def _kind_ints(key: str, value: Any) -> Mapping[str, int]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{key}: must be a table of template kind = number")
    for kind, number in value.items():
        _kind(key, kind)
        _count(f"{key}.{kind}", number)
    return _frozen(value)


def _levels(value: Mapping[str, Any], key: str) -> dict[str, Level]:
    for rule, level in value.items():
        if level not in _LEVELS:
            raise ValueError(f"{key}.{rule}: must be one of {', '.join(_LEVELS)} (got {level!r})")
    return dict(value)


def _boilerplate(key: str, value: Any) -> tuple[BoilerplatePhrase, ...]:
    if not isinstance(value, list):
        raise ValueError(f"{key}: must be an array of tables ([[boilerplate]])")
    out: list[BoilerplatePhrase] = []
    for index, entry in enumerate(value):
        where = f"{key}[{index}]"
        if not isinstance(entry, Mapping):
            raise ValueError(f"{where}: must be a table with phrases and instead")
        _only(entry, where, {"phrases", "instead"})
        if "phrases" not in entry or "instead" not in entry:
            raise ValueError(f"{where}: needs both phrases and instead")
        instead = entry["instead"]
        if not isinstance(instead, str):
            raise ValueError(f"{where}.instead: must be a string")
        out.append(BoilerplatePhrase(_strings(f"{where}.phrases", entry["phrases"]), instead))
    return tuple(out)


DEFAULT_RULES = LintRules()

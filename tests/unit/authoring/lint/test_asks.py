"""What counts as an ask, sentence by sentence."""

import pytest

from cadence.authoring.lint.asks import find_asks, is_question
from cadence.authoring.lint.linter import DEFAULT_RULES


def count_asks(text: str) -> int:
    return len(
        find_asks(
            text,
            openers=DEFAULT_RULES.ask_openers,
            patterns=DEFAULT_RULES.ask_patterns,
            rhetorical=DEFAULT_RULES.rhetorical_patterns,
            short_question_words=DEFAULT_RULES.short_question_words,
        )
    )


@pytest.mark.parametrize(
    "sentence",
    [
        "Are you free Tuesday?",
        "Worth a chat?",
        "Would it make sense to talk next week?",
        "Tuesday at 10?",
        "Thoughts?",
        "Is Tuesday at 10 better for you?",
        "Let me know what you think.",
        "Reply with a good time.",
        "Just reply yes.",
        "Book a time here: https://calendly.com/ann/15",
        "Grab 15 minutes on my calendar.",
        "Hi Ann, grab 15 minutes Thursday.",
        "Feel free to book a slot.",
        "I'd love to show you how.",
        "I’d love to show you how.",
        "Open to a quick chat",
        "https://cal.com/ann",
        "Please send me the name of whoever runs onboarding.",
        "Any chance you're around Thursday? 🙂",
        "(Free for a call Tuesday?)",
        "Free Tuesday?!",
        "ＷＯＲＴＨ Ａ ＣＨＡＴ？",
        "Can we talk next week.",
    ],
)
def test_asks(sentence: str) -> None:
    assert count_asks(sentence) == 1


@pytest.mark.parametrize(
    "sentence",
    [
        "We cut onboarding time by 40% at Initech.",
        "What if onboarding took a week?",
        "Sound familiar?",
        "That is the goal, right?",
        "It never ends, doesn't it?",
        "Ever wondered why onboarding drags?",
        "Why do most onboarding projects slip past the first quarter?",
        'Customers always ask "how fast is it?"',
        "Customers always ask “how fast is it?”",
        "Reply rates doubled last year.",
        "We read every reply.",
        "Most CEOs never book meetings from cold email.",
        "Ann",
        "",
        "???",
        "Best,",
    ],
)
def test_not_asks(sentence: str) -> None:
    assert count_asks(sentence) == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Worth a chat? https://cal.com/ann", 1),
        ("Worth a chat?\n\nhttps://calendly.com/ann", 1),
        ("Book a time:\nhttps://calendly.com/ann", 1),
        ("Book a time:\n- Tue 10am\n- Wed 2pm", 1),
        ("Would it make sense\nto talk next week?", 1),
        ("Free Tuesday? Or Wednesday?", 2),
        ("Worth a chat? Let me know.", 2),
        ("Let me know if you are free, and let me know who else should join.", 1),
        ("Hi Ann,\n\nWe cut onboarding by 40%.\n\nWorth a chat?\n\nBest,\nBob", 1),
        ("See https://acme.com/post?id=3 for the numbers. Worth a chat?", 1),
    ],
)
def test_asks_are_counted_by_sentence(text: str, expected: int) -> None:
    assert count_asks(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Free?", True),
        ("Free? 🙂", True),
        ('He asked "free?"', False),
        ("Free.", False),
        ("", False),
    ],
)
def test_is_question(text: str, expected: bool) -> None:
    assert is_question(text) is expected


def test_asks_keep_the_phrase_that_matched() -> None:
    asks = find_asks(
        "Hi Ann, just grab 15 minutes Thursday.",
        openers=DEFAULT_RULES.ask_openers,
        patterns=(),
        rhetorical=(),
        short_question_words=6,
    )
    assert [a.key for a in asks] == ["just grab"]


def test_no_openers_and_no_patterns_leaves_only_questions() -> None:
    assert find_asks(
        "Book a time. Free?", openers=(), patterns=(), rhetorical=(), short_question_words=6
    )

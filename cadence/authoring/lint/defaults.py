"""The linter's shipped rules as plain data; config/lint.toml mirrors them for marketing to edit.

A test checks that the two agree, so change both together.
"""

# Characters of the body as the prospect reads it (see lint.text.split_message). A ceo_email is
# "as short as a tweet"; a bump and a check-in are emails to the same executive; drip pieces are
# short but carry a footer. Tasks have no limit: their text is a script for the SDR.
MAX_BODY_CHARS: dict[str, int] = {"ceo_email": 400, "bump": 400, "check_in": 400, "drip": 1500}
MAX_SIGNATURE_LINES = 6

# One ask per email to an executive; none at all in drip.
MAX_ASKS: dict[str, int] = {"ceo_email": 1, "bump": 1, "check_in": 1}
NO_ASK_KINDS: tuple[str, ...] = ("drip",)

# Phrases that are an ask when they open a sentence or a clause ("Book a time", "Hi Ann, grab
# 15 minutes"), optionally after a softener such as "just", "please" or "feel free to".
ASK_OPENERS: tuple[str, ...] = (
    "book",
    "schedule",
    "grab",
    "pick a time",
    "pick a slot",
    "find time",
    "find a time",
    "set up a call",
    "set up a time",
    "hop on",
    "jump on",
    "sign up",
    "register",
    "request a demo",
    "start a free trial",
    "start your free trial",
    "reply with",
    "reply to this",
    "reply and",
    "reply yes",
    "respond with",
    "write back",
    "call me",
    "give me a call",
    "email me",
    "send me",
    "point me",
    "introduce me",
    "reach out",
    "get in touch",
    "contact me",
)

# Regular expressions (case-insensitive, on text with straight apostrophes) that are an ask
# anywhere in a sentence.
ASK_PATTERNS: tuple[str, ...] = (
    r"\blet me know\b",
    r"\b(?:just|simply|hit|please) (?:reply|respond)\b",
    r"\b(?:are|would|will) you (?:be )?(?:free|available|open|around|up for)\b",
    r"\b(?:worth|up for|open to|interested in|time for) (?:a |an )?(?:quick |short |brief )?"
    r"(?:\d+[- ]?min(?:ute)?s? )?(?:chat|call|conversation|talk|look|demo|intro|meeting)\b",
    r"\b(?:i'd|i would|we'd|we would) (?:love|like) to (?:chat|talk|connect|meet|speak|show|"
    r"walk you|set up|schedule|hear|learn more)\b",
    r"\bwould it (?:make sense|be worth|help)\b",
    r"\b(?:can|could|shall|should) we (?:talk|chat|meet|connect|speak|set up|schedule|find|"
    r"grab|book)\b",
    r"\b(?:please|kindly) (?:let|send|share|confirm|forward|introduce|point|connect|call|"
    r"contact|email|advise|reply|respond)\b",
    r"\b(?:do not|don't) hesitate to\b",
    r"\b(?:calendly\.com|cal\.com|savvycal\.com|zcal\.co|tidycal\.com|meetings\.hubspot\.com|"
    r"chilipiper\.com|calendar\.app\.google|outlook\.office\.com/bookwithme|doodle\.com)",
)

# A question matching one of these is rhetorical, not an ask.
RHETORICAL_PATTERNS: tuple[str, ...] = (
    r"\bwhat if\b",
    r"\bever (?:wonder|wondered|noticed|thought)\b",
    r"\bsounds? familiar\b",
    r"\b(?:isn't|aren't|doesn't|don't|wasn't|didn't|won't|wouldn't|can't) "
    r"(?:it|that|this|they|we)\W*$",
    r"\bright\W*$",
    r"\bwho (?:doesn't|does not|wouldn't|would not|isn't)\b",
)
# A wh-question longer than this that names neither the reader nor the writer ("Why do most
# onboarding projects slip past Q1?") is rhetorical; shorter ones and yes/no questions are asks.
SHORT_QUESTION_WORDS = 6

# (phrases, plainer alternative). Matching ignores case, whitespace and apostrophe style.
BOILERPLATE: tuple[tuple[tuple[str, ...], str], ...] = (
    (
        ("I hope this email finds you well", "I hope this finds you well"),
        "Cut it and open with the reason you are writing.",
    ),
    (
        ("I hope you are doing well", "I hope you're doing well", "I hope you are well"),
        "Cut it and open with the reason you are writing.",
    ),
    (
        ("I know you are extremely busy", "I know you're busy", "I know you are busy"),
        "Cut it; a short email respects their time better than saying so.",
    ),
    (("it would be greatly appreciated",), "Ask directly, as a peer would."),
    (
        ("sorry to bother you", "sorry to trouble you"),
        "Cut the apology; you are writing as a peer.",
    ),
    (("Kind regards", "Best regards", "Warm regards"), "Sign off with just your name, or 'Best,'."),
    (
        ("Please do not hesitate to contact me", "please don't hesitate to contact me"),
        "Cut it; they know how to reply.",
    ),
    (
        ("I wanted to reach out", "I am reaching out", "I'm reaching out"),
        "Say why you are writing.",
    ),
    (("Just checking in",), "Say what is new or useful since your last note."),
    (("touch base",), "Say what you want to talk about."),
    (("per my last email", "as per my last email"), "Forward the earlier email instead."),
    (("at your earliest convenience",), "Propose a specific time."),
    (("I am writing to", "I'm writing to"), "Start with what you are writing about."),
    (("To whom it may concern",), "Use their first name."),
    (("Dear Sir/Madam", "Dear Sir or Madam", "Dear Sir", "Dear Madam"), "Use their first name."),
    (("I would like to introduce myself", "allow me to introduce myself"), "Skip the intro."),
)

REQUIRE_VALUE_PROPOSITION = True
VALUE_PROPOSITION_KINDS: tuple[str, ...] = ("ceo_email", "bump", "check_in", "drip")

FOOTER_KINDS: tuple[str, ...] = ("drip",)
UNSUBSCRIBE_PATTERNS: tuple[str, ...] = (
    r"\bunsubscribe\b",
    r"\bopt[- ]?out\b",
    r"\b(?:manage|update|change) (?:your )?(?:email |subscription )?preferences\b",
    r"\bstop (?:receiving|getting) (?:these )?emails\b",
)
# A postal address: a street line, a P.O. box, or a postcode. Patterns are multi-line ($ ends a
# line); postcodes and street names are matched case-sensitively (the (?-i:...) groups) so that
# "Q3 4th" is not a British postcode and "15 minutes to find a way" is not a street.
POSTAL_ADDRESS_PATTERNS: tuple[str, ...] = (
    r"\bp\.?\s?o\.?\s+box\s+\d+",
    r"\b\d+[a-z]?,?\s+(?-i:[A-Z0-9][\w.'-]*\s+){0,3}(?:street|st|avenue|ave|road|rd|boulevard|"
    r"blvd|lane|ln|drive|dr|way|place|pl|square|sq|court|ct|parkway|pkwy|highway|hwy|rue|calle|"
    r"rua|avenida)\b",
    r"\b(?:via|viale|calle|rua|avenida|piazza|corso|plaza|rue)\s+"
    r"(?-i:[A-Z][\w'.-]*(?:\s+[\w'.-]+){0,3}),?\s\d+[a-z]?\s*(?:,|$)",
    r"\b\w{1,40}?(?:strasse|straße|str\.|weg|platz|gasse|allee|laan|gade|vej|gatan)\s+\d+",
    r"(?-i:\b[A-Z]{2}\s+\d{5}(?:-\d{4})?\b)",
    r"(?-i:\b[A-Z]{1,2}\d[A-Z\d]?\s+\d[A-Z]{2}\b)",
    r"(?-i:\b\d{4,5}\s+[A-ZÄÖÜÉ][\w'-]+(?:,\s*[A-Z][\w ]+)?\s*$)",
)

SUBJECT_KINDS: tuple[str, ...] = ("ceo_email", "bump", "check_in", "drip")
SUBJECT_REQUIRED_KINDS: tuple[str, ...] = ("ceo_email", "check_in", "drip")
SUBJECT_MAX_CHARS = 60

SEVERITIES: dict[str, str] = {
    "too-long": "error",
    "empty-body": "error",
    "multiple-asks": "error",
    "ask-in-drip": "error",
    "boilerplate": "warning",
    "no-value-proposition": "warning",
    "drip-missing-footer": "error",
    "empty-variable": "warning",
    "empty-subject": "error",
    "subject-too-long": "warning",
    "shouty-subject": "warning",
    "fake-reply-subject": "warning",
}

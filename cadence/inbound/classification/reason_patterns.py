"""The wording of each bounce reason, in the order the checks run.

Rejections of the sender come first: their messages often also say "recipient rejected" or
"mailbox unavailable", which would otherwise read as a bad address. Then the states of the
recipient, then the address itself, then the path. Each pattern is anchored on words a
server writes about a failure, never on words a footer or a copied message may carry
("scanned for spam" is no rejection for spam).
"""

from __future__ import annotations

import re

_I = re.I

# Exchange Online's directory-based edge blocking says "access denied" for a recipient its
# directory does not hold: an unknown user, whatever the policy wording.
DIRECTORY_REJECT = re.compile(
    r"5\.4\.1 recipient address rejected: access denied|access denied\. as\(201806281\)", _I
)
# A domain that accepts no mail at all (RFC 7505 null MX): the address can never work.
NOT_ACCEPT = re.compile(
    r"null mx|does not accept (?:any )?(?:e-?mail|mail|messages)(?! from)|"
    r"domain (?:does not|doesn't) (?:accept|receive) (?:any )?(?:e-?mail|mail)|"
    r"no mail is accepted for this domain",
    _I,
)
AUTHENTICATION = re.compile(
    r"\b(?:spf|dkim|dmarc)\b|sender policy framework|unauthenticated (?:e-?mail|message|sender)|"
    r"(?:reverse dns|rdns|ptr record)|does not have a ptr|not pass(?:ing)? (?:authentication|"
    r"dmarc|spf)|authentication (?:failed|failure|required)|5\.7\.2[3-7]",
    _I,
)
BLOCKED = re.compile(
    r"block ?list|black ?list|blocked using|listed (?:at|on|in) (?:the )?[\w.-]*(?:spamhaus|"
    r"spamcop|barracuda|sorbs|dnsbl|rbl)|\bspamhaus\b|barracudacentral|\b(?:dnsbl|rbl)\b|"
    r"banned sending ip|(?:sending |client |your )?ip(?: address)? [\w.:\[\]]*\s*(?:is |has "
    r"been )?(?:blocked|banned|blacklisted|listed)|poor (?:ip )?reputation|bad reputation|"
    r"reputation (?:of|is)|5\.7\.(?:606|51\d)|access denied[,.;]? (?:banned|blocked)|"
    r"connection (?:refused|rejected) (?:due to|because of|by policy)",
    _I,
)
RATE_LIMITED = re.compile(
    r"rate[- ]?limit|too many (?:messages|connections|recipients|concurrent|mails)|throttl|"
    r"unexpected volume|sending (?:limit|quota) exceeded|exceeded (?:the )?(?:sending|daily "
    r"sending|message rate)|(?:message|connection) rate|try again in \d+ (?:seconds|minutes)|"
    r"\[tss0\d\]|temporarily (?:deferred|rejected) due to",
    _I,
)
VIRUS = re.compile(
    r"virus (?:found|detected|infected)|infected (?:with|by)|contains? (?:a )?virus|"
    r"malware (?:detected|found)|malicious (?:content|attachment)",
    _I,
)
SPAM = re.compile(
    r"likely unsolicited|unsolicited (?:mail|message|bulk|commercial)|"
    r"(?:rejected|blocked|identified|classified|detected|considered|flagged|marked)\s+"
    r"(?:as |for )?(?:being )?(?:spam|junk|bulk)|(?:spam|junk) (?:content|message|"
    r"detected|rejected)|content filter|spam score|\bis spam\b|(?:looks|look) like spam",
    _I,
)
MESSAGE_TOO_BIG = re.compile(
    r"message (?:size )?(?:exceeds|is too (?:large|big))|(?:too (?:large|big)|exceeded) (?:the )?"
    r"(?:maximum|max)? ?(?:incoming )?(?:message )?size|size limit|"
    r"message (?:is )?too (?:large|big)|maximum (?:incoming )?message size|mail size|"
    r"5\.3\.4|5\.2\.3",
    _I,
)
MAILBOX_FULL = re.compile(
    r"mailbox (?:is )?full|over ?quota|quota (?:exceeded|exceed|violation)|"
    r"exceed(?:s|ed|ing)? (?:the |their |his |her |its |mailbox )?(?:storage|quota|mailbox quota)|"
    r"insufficient (?:system )?storage|mailbox size limit|inbox is full|disk quota|out of storage|"
    r"storage allocation|over (?:its|the|their|disk) quota|mailbox (?:has )?exceeded|full mailbox|"
    r"mailfolder is full|box space not enough|due to a full mailbox|mailbox quota|"
    r"disk ?space quota|not (?:have )?enough (?:storage |disk )?space|insufficient space|"
    r"postfach (?:ist )?voll|speicherplatz|boîte (?:aux lettres )?(?:est )?pleine|"
    r"buzón (?:está )?lleno|mailbox (?:is )?vol|caixa (?:postal )?(?:está )?cheia|"
    r"casella (?:è )?piena|skrzynka (?:jest )?pełna",
    _I,
)
SUSPENDED = re.compile(
    r"account (?:has been |is |was )?(?:disabled|suspended|inactive|deactivated|locked|"
    r"discontinued|blocked)|disabled or discontinued|mailbox (?:is |has been )?(?:disabled|"
    r"suspended|inactive)|account that you tried to reach is disabled|"
    r"inactive (?:account|mailbox|user)",
    _I,
)
HAS_MOVED = re.compile(r"(?:mailbox|user|address|recipient) has moved|5\.1\.6", _I)
HOST_UNKNOWN = re.compile(
    r"host (?:or domain name )?not found|domain (?:name )?(?:does ?n[o']t|does not) exist|"
    r"domain not found|unknown host|no such domain|name service error|unrouteable (?:mail )?"
    r"domain|unroutable (?:mail )?domain|bad destination (?:system|domain)|"
    r"mx (?:record )?(?:not found|lookup failed)|no mx (?:record|host)|dns (?:error|failure)|"
    r"host unknown|could not find a gateway",
    _I,
)
USER_UNKNOWN = re.compile(
    r"user unknown|unknown user|no such (?:user|mailbox|recipient|address|person|account)|"
    r"does ?n[o']t exist|address not found|(?:couldn't|could not|can't) be found|"
    r"mailbox (?:unavailable|not found|does not exist)|\baddress rejected|"
    r"invalid (?:recipient|mailbox|address|"
    r"final delivery userid|user)|recipient (?:address )?rejected|"
    r"not listed in (?:the )?(?:domino )?directory|no mailbox here|unrouteable address|"
    r"unknown (?:or illegal )?(?:recipient|user|local part|addressee)|addressee unknown|"
    r"user not (?:found|known|listed)|recipnotfound|recipientnotfound|recipient not found|"
    r"doesn't have an? [\w.-]+ account|bad destination mailbox|no longer (?:valid|active|in use|"
    r"available)|not a valid (?:user|recipient|mailbox)|does not have a final (?:e-?mail )?"
    r"delivery point|did not (?:exactly )?match|no matches to nameserver query|"
    r"illegal user|unknown or illegal|\(000c05a6\)|existiert nicht|unbekannt|n'existe pas|inconnu|"
    r"non recensé|no existe|desconocido|bestaat niet|onbekend|não existe|inexistente|"
    r"non esiste|sconosciuto|nie istnieje",
    _I,
)
NO_RELAYING = re.compile(
    r"relay(?:ing)? (?:access )?(?:denied|not permitted|not allowed|prohibited)|unable to relay|"
    r"not permitted to relay|relay not permitted|we do not relay|open relay",
    _I,
)
REJECTED = re.compile(
    r"not accepting mail from|sender (?:address )?(?:rejected|denied|refused|blocked)|"
    r"domain of sender address|sender (?:domain|address) (?:does not|must) (?:exist|resolve)|"
    r"not allowed to post|not a member of|non-?member|posting (?:is )?(?:not allowed|"
    r"restricted)|(?:refused|rejected) by (?:the )?recipient|does not accept mail from|"
    r"sender is not allowed|your address (?:is|has been) (?:blocked|rejected)",
    _I,
)
POLICY = re.compile(
    r"polic(?:y|ies) (?:violation|restriction|reasons?|rejection)|(?:due to|by|violates?|per|"
    r"against) (?:the |our |local |security |content |organi[sz]ation'?s? )*polic(?:y|ies)|"
    r"administrative(?:ly)? prohibit|access denied|delivery not authori[sz]ed|"
    r"not authori[sz]ed to (?:send|deliver)",
    _I,
)
CONTENT_ERROR = re.compile(
    r"resent-from field|invalid (?:header|mime)|malformed|header (?:error|syntax)|"
    r"without (?:to|from|date|subject|message-id):? (?:fields?|headers?)|missing (?:required )?"
    r"(?:header|to:|from:)|"
    r"not (?:rfc ?\d+ )?compliant|rfc ?(?:5322|2822|822) (?:violation|error)|bare lf|"
    r"8-?bit (?:data|characters) (?:not|rejected)",
    _I,
)
MAILER_ERROR = re.compile(
    r"command died|command output|unable to deliver to program|mailer error|pipe to |"
    r"local delivery failed|procmail|maildrop",
    _I,
)
SYSTEM_ERROR = re.compile(
    r"too many hops|loop(?:ing)? (?:detected|broken)|mail(?:ing)? loop|message looping|"
    r"loops back to myself|"
    r"processing error|system error|internal (?:server )?error|local error|"
    r"server (?:error|failure)|configuration error",
    _I,
)
EXPIRED = re.compile(
    r"not delivered within|queue (?:period|lifetime|time)|maximum delivery attempts|"
    r"delivery failed \d+ attempts|(?:message )?timed out|retry (?:time|timeout|period) "
    r"(?:exceeded|expired)|too long in (?:the )?queue|aborted after|expired|"
    r"could not be delivered (?:for|within) \d+|gave up after|delivery time expired|"
    r"not been collected|in the queue too long",
    _I,
)
NETWORK_ERROR = re.compile(
    r"connection (?:refused|timed out|reset|lost)|(?:unable|failed) to connect|"
    r"(?:couldn't|could not|can't|cannot) connect|not responding|no route to host|"
    r"establish an smtp connection|network (?:error|unreachable)|host unreachable|"
    r"lost connection",
    _I,
)

# Wording that says the server keeps trying: such a failure is never hard.
DELAY = re.compile(
    r"delivery (?:is |has been )?delayed|delayed mail|has not (?:yet )?been delivered|"
    r"not yet been delivered|will (?:continue to |automatically )?(?:retry|attempt (?:delivery|"
    r"to deliver|again))|"
    r"will be retried|still (?:being )?retried|will keep trying|warning message only|"
    r"do not need to (?:resend|take any action)|delivery incomplete|"
    r"temporary (?:problem|failure|error)|temporarily (?:deferred|rejected|unavailable)|"
    r"message not delivered yet|could not send message for past|greylist|graylist|"
    r"try (?:again )?later|\bdeferred\b|\(delay\)|delay notification|delivery attempts will "
    r"continue|postponed|still awaiting delivery|message delayed|verzögert|retardée|retrasad|"
    r"vertraagd|atrasad|ritardat|opóźnion",
    _I,
)

REASON_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("user_unknown", DIRECTORY_REJECT),
    ("not_accept", NOT_ACCEPT),
    ("authentication", AUTHENTICATION),
    ("blocked", BLOCKED),
    ("rate_limited", RATE_LIMITED),
    ("virus", VIRUS),
    ("spam", SPAM),
    ("message_too_big", MESSAGE_TOO_BIG),
    ("mailbox_full", MAILBOX_FULL),
    ("suspended", SUSPENDED),
    ("has_moved", HAS_MOVED),
    ("no_relaying", NO_RELAYING),
    ("rejected", REJECTED),
    ("policy", POLICY),
    ("host_unknown", HOST_UNKNOWN),
    ("user_unknown", USER_UNKNOWN),
    ("content_error", CONTENT_ERROR),
    ("expired", EXPIRED),
    ("mailer_error", MAILER_ERROR),
    ("system_error", SYSTEM_ERROR),
    ("network_error", NETWORK_ERROR),
)

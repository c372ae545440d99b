"""Inbound mail classification: pure, standard library only, never raises.

``classify_message(raw, received_at=...)`` tells a reply from an auto reply, a bounce (hard or
soft), a spam complaint or a request to stop, and extracts what the engine acts on: the
addresses concerned, the Message-IDs that tie the message to a touch, an out-of-office return
date and the person's own words.
"""

from cadence.inbound.classification.classify import classify_message
from cadence.inbound.classification.verdict import BounceKind, Kind, Verdict

__all__ = ["BounceKind", "Kind", "Verdict", "classify_message"]

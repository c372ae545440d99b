"""One-time tokens (Mailgun's ``token``, our signatures) so a captured request cannot be
played again. Mailgun signs only its timestamp and token, not the body: without this a
replayed signature could carry any payload within the freshness window."""

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select

from cadence.inbound.providers.base import Forbidden
from cadence.store.database import transaction
from cadence.store.models import WebhookNonce


def _key(nonce: str) -> str:
    return nonce if len(nonce) <= 128 else "sha256:" + hashlib.sha256(nonce.encode()).hexdigest()


def claim_nonce(
    session: Session, provider: str, nonce: str, *, now: datetime, max_age_seconds: int
) -> None:
    """Record ``nonce`` as used in the caller's transaction; :class:`Forbidden` if it was.

    Nonces older than twice the freshness window are pruned: a request that old is refused
    as stale before its nonce is looked at. Two concurrent claims collide on the unique
    constraint, and the loser is refused too.
    """
    key = _key(nonce)
    seen = session.exec(
        select(WebhookNonce).where(WebhookNonce.provider == provider, WebhookNonce.nonce == key)
    ).first()
    if seen is not None:
        raise Forbidden("this request was already received (replay refused)")
    cutoff = now - timedelta(seconds=2 * max_age_seconds)
    session.exec(
        delete(WebhookNonce).where(
            col(WebhookNonce.provider) == provider, col(WebhookNonce.seen_at) < cutoff
        )
    )
    session.add(WebhookNonce(provider=provider, nonce=key, seen_at=now))
    try:
        session.flush()
    except IntegrityError as error:
        raise Forbidden("this request was already received (replay refused)") from error


def release_nonce(engine: Engine, provider: str, nonce: str) -> None:
    """Forget a nonce whose request failed after the claim committed, so the provider's
    retry of the same request is accepted."""
    with transaction(engine) as session:
        session.exec(
            delete(WebhookNonce).where(
                col(WebhookNonce.provider) == provider, col(WebhookNonce.nonce) == _key(nonce)
            )
        )

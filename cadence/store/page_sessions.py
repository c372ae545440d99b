"""The pages' server-side sessions: opened at sign-in, looked up per page, revoked at sign-out.

The cookie carries a random id that exists nowhere else; the store keeps its SHA-256, so
neither a leaked cookie nor a copy of the store reveals the user's API token, and signing
out deletes the row, which ends the session on every copy of the cookie.
"""

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlmodel import Session, col, delete, select

from cadence.store.models import PageSession, User

SESSION_PREFIX = "cads_"


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def open_session(session: Session, user_id: int, *, now: datetime, lifetime: timedelta) -> str:
    """A new session for the user; returns its id (the only time it is visible). Sessions
    already expired, anyone's, are removed on the way."""
    session.exec(delete(PageSession).where(col(PageSession.expires_at) <= now))
    session_id = SESSION_PREFIX + secrets.token_urlsafe(32)
    session.add(
        PageSession(
            id_hash=_hash(session_id), user_id=user_id, created_at=now, expires_at=now + lifetime
        )
    )
    return session_id


def user_for_session(session: Session, session_id: str | None, *, now: datetime) -> User | None:
    """The enabled user behind a live session, else None (unknown, expired or revoked)."""
    if not session_id or not session_id.startswith(SESSION_PREFIX) or len(session_id) > 100:
        return None
    user = session.exec(
        select(User)
        .join(PageSession, col(PageSession.user_id) == col(User.id))
        .where(PageSession.id_hash == _hash(session_id), col(PageSession.expires_at) > now)
    ).first()
    return None if user is None or user.disabled else user


def close_session(session: Session, session_id: str | None) -> None:
    """Revoke the session; an unknown or missing id is a no-op, so signing out twice is fine."""
    if session_id:
        session.exec(delete(PageSession).where(col(PageSession.id_hash) == _hash(session_id)))

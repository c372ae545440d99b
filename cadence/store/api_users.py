"""API users, roles and bearer tokens. Tokens are shown once and stored as SHA-256 hashes."""

import hashlib
import secrets
from datetime import datetime
from enum import StrEnum

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from cadence.core.errors import ConflictError, InputError
from cadence.store.audit_log import record_audit
from cadence.store.models import User


class Role(StrEnum):
    SDR = "sdr"
    MARKETING = "marketing"
    MANAGER = "manager"
    ADMIN = "admin"


TOKEN_PREFIX = "cad_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_user(session: Session, name: str, role: Role, *, now: datetime, actor: str) -> str:
    """Create a user and return its token (the only time it is visible)."""
    name = name.strip()
    if not name or len(name) > 100 or any(ord(c) < 32 for c in name):
        raise InputError("a user name is 1 to 100 printable characters")
    if session.exec(select(User).where(User.name == name)).first() is not None:
        raise ConflictError(f"user {name!r} already exists")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(User(name=name, role=role.value, token_hash=hash_token(token), created_at=now))
    try:
        session.flush()
    except IntegrityError as exc:
        raise ConflictError(f"user {name!r} already exists") from exc
    record_audit(session, at=now, actor=actor, action="user:added", after=f"{name}:{role.value}")
    return token


def user_for_token(session: Session, token: str) -> User | None:
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    user = session.exec(select(User).where(User.token_hash == hash_token(token))).first()
    return None if user is None or user.disabled else user

"""Who is calling: bearer tokens (or the pages' session) to a user, and what each role may do.

The caller is found by :class:`cadence.web.gate.AccessGate` before the body is read and left
in the request's state; the dependencies here read it. An SDR only ever sees their own
prospects; anyone else's look exactly like missing ones (404, same words), so the API never
confirms that a record exists.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cadence.core.errors import NotFoundError
from cadence.runtime.context import AppContext
from cadence.store.api_users import Role, user_for_token
from cadence.store.database import transaction
from cadence.store.models import User
from cadence.store.page_sessions import user_for_session
from cadence.web.deps import context

#: The pages' session cookie; it holds a session id of its own, never the API token.
SESSION_COOKIE = "cadence_session"
#: Where the gate leaves the caller in the request's state.
PRINCIPAL_KEY = "cadence_principal"
UNAUTHORIZED = "a valid bearer token is required (cadence users add NAME --role ROLE)"

#: The process's context, for route parameters.
Ctx = Annotated[AppContext, Depends(context)]

_bearer = HTTPBearer(auto_error=False, description="A token from `cadence users add`.")


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role

    @property
    def actor(self) -> str:
        """The audit trail's ``actor`` for what this user does through the web."""
        return f"api:{self.name}"

    @property
    def owner_scope(self) -> str | None:
        """The owner every query is restricted to: the SDR's own name, else no restriction."""
        return self.name if self.role is Role.SDR else None

    def may_see_owner(self, owner: str) -> bool:
        return self.role is not Role.SDR or owner == self.name


def hidden(what: str, record_id: int) -> NotFoundError:
    """The one answer for a record that is missing or another SDR's, in the words of the
    id the caller sent (``no touch 7``): a 403, or naming the record's prospect, would
    confirm that it exists."""
    return NotFoundError(f"no {what} {record_id}")


def _principal(user: User | None) -> Principal | None:
    if user is None:
        return None
    try:
        return Principal(user.name, Role(user.role))
    except ValueError:
        return None  # a role this version does not know grants nothing


def principal_for_token(ctx: AppContext, token: str | None) -> Principal | None:
    if not token:
        return None
    with transaction(ctx.engine) as session:
        return _principal(user_for_token(session, token))


def principal_for_session(ctx: AppContext, session_id: str | None) -> Principal | None:
    """The user of a live page session (not expired, not signed out, user enabled)."""
    if not session_id:
        return None
    with transaction(ctx.engine) as session:
        return _principal(user_for_session(session, session_id, now=ctx.clock.now()))


def caller(request: Request) -> Principal | None:
    """The principal the gate admitted this request with, if any."""
    principal = request.scope.get("state", {}).get(PRINCIPAL_KEY)
    return principal if isinstance(principal, Principal) else None


def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller behind ``Authorization: Bearer`` (checked by the gate before the body
    was read; ``credentials`` is declared for the OpenAPI schema); 401 without one."""
    principal = caller(request)
    if principal is None:
        raise HTTPException(
            status_code=401, detail=UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"}
        )
    return principal


def roles(*allowed: Role) -> Callable[..., Principal]:
    """A dependency that admits only ``allowed`` roles (admin always) and returns the caller."""

    def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if principal.role is not Role.ADMIN and principal.role not in allowed:
            raise HTTPException(
                status_code=403, detail=f"the {principal.role.value} role cannot do this"
            )
        return principal

    return check


#: Reads of prospect data: SDRs (their own), managers, admins.
Reader = Annotated[Principal, Depends(roles(Role.SDR, Role.MANAGER))]
#: Changes to prospects' enrollments and tasks: SDRs (their own) and admins; managers read.
Actor = Annotated[Principal, Depends(roles(Role.SDR))]
#: The audit trail: managers and admins.
Auditor = Annotated[Principal, Depends(roles(Role.MANAGER))]
#: Aggregates with no prospect data: managers, marketing, admins.
Analyst = Annotated[Principal, Depends(roles(Role.MANAGER, Role.MARKETING))]
#: Templates and cadences: marketing, managers, admins.
Author = Annotated[Principal, Depends(roles(Role.MARKETING, Role.MANAGER))]

"""Who is calling: bearer tokens (or the pages' cookie) to a user, and what each role may do.

An SDR only ever sees their own prospects; anyone else's look like they do not exist (404),
so the API never confirms that an address is in the store.
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
from cadence.web.deps import context

#: The pages' session cookie; it holds the same token as the API's bearer header.
SESSION_COOKIE = "cadence_session"

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

    def require_owner(self, owner: str, what: str) -> None:
        """Raise NotFoundError (404) for another SDR's record: a 403 would confirm it exists."""
        if not self.may_see_owner(owner):
            raise NotFoundError(f"no {what}")


def principal_for_token(ctx: AppContext, token: str | None) -> Principal | None:
    if not token:
        return None
    with transaction(ctx.engine) as session:
        user = user_for_token(session, token)
    if user is None:
        return None
    try:
        return Principal(user.name, Role(user.role))
    except ValueError:
        return None  # a role this version does not know grants nothing


def _unauthorized() -> HTTPException:
    return HTTPException(
        status_code=401,
        detail="a valid bearer token is required (cadence users add NAME --role ROLE)",
        headers={"WWW-Authenticate": "Bearer"},
    )


def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller behind ``Authorization: Bearer``; 401 without a valid token."""
    ctx = context(request)
    principal = principal_for_token(ctx, credentials.credentials if credentials else None)
    if principal is None:
        raise _unauthorized()
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

"""The ``/api/v1`` JSON API: every route needs a bearer token, and each router states
which roles it admits (:mod:`cadence.web.security`)."""

from typing import Annotated

from fastapi import APIRouter, Depends

from cadence.api.routes import audit, authoring, enrollments, prospects, tasks
from cadence.api.schemas import Me
from cadence.web.errors import ERROR_RESPONSES, CadenceRoute
from cadence.web.security import Principal, current_principal

v1_router = APIRouter(route_class=CadenceRoute, responses=ERROR_RESPONSES)


@v1_router.get("/me", response_model=Me, tags=["users"])
def me(who: Annotated[Principal, Depends(current_principal)]) -> Me:
    """Who the token belongs to, and its role."""
    return Me(name=who.name, role=who.role.value)


for _module in (prospects, enrollments, tasks, audit, authoring):
    v1_router.include_router(_module.router)

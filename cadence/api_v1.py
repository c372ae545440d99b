"""The ``/api/v1`` JSON API: every route needs a bearer token, and each router states
which roles it admits (:mod:`cadence.api_security`)."""

from typing import Annotated

from fastapi import APIRouter, Depends

from cadence import api_audit, api_authoring, api_enrollments, api_prospects, api_tasks
from cadence.api_errors import ERROR_RESPONSES, CadenceRoute
from cadence.api_schemas import Me
from cadence.api_security import Principal, current_principal

v1_router = APIRouter(route_class=CadenceRoute, responses=ERROR_RESPONSES)


@v1_router.get("/me", response_model=Me, tags=["users"])
def me(who: Annotated[Principal, Depends(current_principal)]) -> Me:
    """Who the token belongs to, and its role."""
    return Me(name=who.name, role=who.role.value)


for _module in (api_prospects, api_enrollments, api_tasks, api_audit, api_authoring):
    v1_router.include_router(_module.router)

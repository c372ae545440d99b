"""The ``/api/v1`` JSON API with bearer tokens and roles (issue 6)."""

from fastapi import APIRouter

v1_router = APIRouter()

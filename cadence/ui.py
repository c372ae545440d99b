"""The managers' pages under ``/ui`` (issue 6)."""

from fastapi import APIRouter

ui_router = APIRouter(include_in_schema=False)

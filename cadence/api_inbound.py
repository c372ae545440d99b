"""Signed provider webhooks under ``/api/v1/inbound/{provider}`` (issue 4)."""

from fastapi import APIRouter

inbound_router = APIRouter(tags=["inbound"])

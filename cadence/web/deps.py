"""FastAPI dependencies shared by the routers."""

from fastapi import Request

from cadence.runtime.context import AppContext


def context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx

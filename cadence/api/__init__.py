"""The web process (Procfile ``web``): ``uvicorn cadence.api:create_app --factory``."""

from cadence.api.app import create_app

__all__ = ["create_app"]

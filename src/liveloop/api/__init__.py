"""HTTP face (FastAPI): routers per capability under ``liveloop.api.routes``."""

from liveloop.api.app import create_app

__all__ = ["create_app"]

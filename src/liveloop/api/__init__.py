"""HTTP API face (FastAPI): routers per capability under ``liveloop.api.routes``, mounted by
``liveloop.server.create_app``."""

from liveloop.api.app import DESCRIPTION, mount_api

__all__ = ["DESCRIPTION", "mount_api"]

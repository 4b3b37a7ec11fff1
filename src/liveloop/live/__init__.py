"""liveloop.live."""

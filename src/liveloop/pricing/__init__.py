"""liveloop.pricing."""

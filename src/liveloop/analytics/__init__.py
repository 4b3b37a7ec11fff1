"""liveloop.analytics."""

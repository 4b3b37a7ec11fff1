"""liveloop.content."""

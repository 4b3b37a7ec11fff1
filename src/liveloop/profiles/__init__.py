"""liveloop.profiles."""

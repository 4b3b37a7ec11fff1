"""liveloop.campaigns."""

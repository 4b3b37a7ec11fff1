"""liveloop.recommend."""

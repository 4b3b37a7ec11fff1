"""liveloop.budget."""

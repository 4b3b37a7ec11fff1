"""liveloop.datasets."""

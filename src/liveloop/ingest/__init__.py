"""liveloop.ingest."""
